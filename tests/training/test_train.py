"""Training from the command line: network width flags, fine-tuning keeps the checkpoint's shape,
and an ensemble of networks of different widths exports to one model file."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from drumscribe.training import export as ex  # noqa: E402
from drumscribe.training import train  # noqa: E402
from drumscribe.transcription.network import load_model  # noqa: E402


def _clips(folder, n=2, frames=300, bands=72):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        onsets = np.array([[0.5, 0, 1.0], [1.0, 1, 0.8], [1.5, 2, 0.6]], np.float32)
        np.savez(folder / f"clip_{k:05d}.npz", feats=rng.random((frames, 2 * bands)).astype(np.float16),
                 onsets=onsets, meta=json.dumps({"k": k}))
    return str(folder)


def _probabilities(net, x):
    """A torch network's sigmoid outputs for one (frames, features) input."""
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(x)[None]))[0].numpy()


def _train(tmp_path, name, *extra):
    data = tmp_path / "clips"
    if not data.exists():
        _clips(data)
    out = tmp_path / name
    train.main(["--train", str(data), "--val", str(data), "--out", str(out), "--steps", "2", "--batch", "2",
                "--length", "100", "--threads", "1", "--eval-every", "2", *extra])
    return out / "ckpt.pt"


def test_width_flags_set_the_architecture_and_fine_tuning_keeps_it(tmp_path):
    wide = _train(tmp_path, "wide", "--c1", "4", "--c2", "6", "--hidden", "16")
    assert {k: torch.load(wide)["cfg"][k] for k in ("c1", "c2", "hidden")} == {"c1": 4, "c2": 6, "hidden": 16}
    tuned = _train(tmp_path, "tuned", "--init", str(wide), "--hidden", "80")  # --hidden ignored with --init
    assert torch.load(tuned)["cfg"]["hidden"] == 16


def test_an_ensemble_of_different_widths_is_the_mean_of_its_members(tmp_path):
    a = _train(tmp_path, "a")
    b = _train(tmp_path, "b", "--c1", "4", "--c2", "6", "--hidden", "16")
    ex.export([a, b], tmp_path / "ens.npz")
    x = np.random.default_rng(1).random((120, 144)).astype(np.float32)
    outs = [_probabilities(ex.model_from_ckpt(ck)[0], x) for ck in (a, b)]
    got = load_model(tmp_path / "ens.npz").activations(x)
    assert np.abs(got - np.mean(outs, axis=0)).max() < 1e-4


def test_a_shipped_network_rebuilt_in_torch_computes_what_the_file_does(tmp_path):
    """``model_from_npz`` undoes the export (batch norms folded, then frozen as the identity), so a
    fine-tune starts exactly where the shipped network is; extra outputs are added after its own."""
    from drumscribe.transcription.network import DEFAULT_MODEL, ensemble_outputs

    x = np.random.default_rng(2).random((150, 144)).astype(np.float32)
    shipped = load_model(DEFAULT_MODEL)
    outs = []
    for j in range(shipped.n_networks):
        net = ex.model_from_npz(DEFAULT_MODEL, j)
        net.train()  # frozen batch norms stay the identity in training mode too
        assert all(not m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d))
        net.eval()
        outs.append(_probabilities(net, x))
    combined = ensemble_outputs(len(shipped.classes), shipped.detects)(outs)
    assert np.abs(combined - shipped.all_activations(x)).max() < 1e-4
    wider = ex.model_from_npz(DEFAULT_MODEL, 0, n_classes=len(shipped.classes) + 7)
    y = _probabilities(wider, x)
    assert y.shape == (150, len(shipped.classes) + 7)
    assert np.abs(y[:, : len(shipped.classes)] - outs[0][:, : len(shipped.classes)]).max() < 1e-5


def test_finer_outputs_train_export_and_average_over_the_members_that_have_them(tmp_path):
    """A network trained with ``--fine`` has the five classes then the finer outputs; in an ensemble
    with a five-output network the classes are averaged over both, the finer outputs come from it alone."""
    data = tmp_path / "clips"
    _clips(data)
    fine = _train(tmp_path, "fine", "--fine")
    assert torch.load(fine)["fine_classes"] == train.FINE_CLASSES
    plain = _train(tmp_path, "plain")
    ex.export([plain, fine], tmp_path / "ens.npz", open_hat="learnt")
    model = load_model(tmp_path / "ens.npz")
    assert model.fine_classes == train.FINE_CLASSES and model.open_hat == "learnt"
    assert model.fine_groups["tom_mid"] == ["tom_high", "tom_mid", "tom_low"]
    x = np.random.default_rng(1).random((120, 144)).astype(np.float32)
    outs = [_probabilities(ex.model_from_ckpt(ck)[0], x) for ck in (plain, fine)]
    got = model.all_activations(x)
    assert got.shape == (120, 5 + 7)
    assert np.abs(got[:, :5] - (outs[0] + outs[1][:, :5]) / 2).max() < 1e-4
    assert np.abs(got[:, 5:] - outs[1][:, 5:]).max() < 1e-4
    assert np.array_equal(model.activations(x), got[:, :5])


def test_a_member_detects_the_classes_export_gives_it_and_keeps_them_when_re_exported(tmp_path):
    """``export --detect J=...``: network J helps detect those classes only; taking the networks of
    that file again (``file.npz#J``) keeps the finer outputs, so a shipped naming network can be re-used."""
    data = tmp_path / "clips"
    _clips(data)
    fine = _train(tmp_path, "fine", "--fine")
    plain = _train(tmp_path, "plain")
    some = ["kick", "snare", "hihat_closed", "crash"]
    ex.export([plain, fine], tmp_path / "ens.npz", detect={1: some}, open_hat="learnt")
    model = load_model(tmp_path / "ens.npz")
    x = np.random.default_rng(3).random((100, 144)).astype(np.float32)
    outs = [_probabilities(ex.model_from_ckpt(ck)[0], x) for ck in (plain, fine)]
    got = model.all_activations(x)
    both, toms = [0, 1, 2, 4], model.classes.index("tom_mid")
    assert np.abs(got[:, both] - (outs[0][:, both] + outs[1][:, both]) / 2).max() < 1e-4
    assert np.abs(got[:, toms] - outs[0][:, toms]).max() < 1e-4
    again = tmp_path / "again.npz"
    ex.export([f"{tmp_path / 'ens.npz'}#0", f"{tmp_path / 'ens.npz'}#1"], again, detect={1: some}, open_hat="learnt")
    reloaded = load_model(again)
    assert reloaded.fine_classes == train.FINE_CLASSES and reloaded.detects == model.detects
    assert np.abs(reloaded.all_activations(x) - got).max() < 1e-5
    with pytest.raises(SystemExit, match="detects"):
        ex.export([plain, fine], tmp_path / "bad.npz", detect={0: ["kick"], 1: ["kick"]})


def test_fine_targets_mark_the_class_and_the_finer_output():
    from drumscribe.training import render as rd

    onsets = np.array([[0.5, rd.R["tom_low"], 1.0], [1.0, rd.R["hihat_pedal"], 0.5], [1.5, rd.R["side_stick"], 1.0]])
    y = train.targets_for(onsets, 200, fine=True)
    cls = {c: i for i, c in enumerate(train.CLASSES)}
    fine = {c: len(train.CLASSES) + i for i, c in enumerate(train.FINE_CLASSES)}
    assert y[50, cls["tom_mid"]] == 1 and y[50, fine["tom_low"]] == 1 and y[50, fine["tom_high"]] == 0
    assert y[100, cls["hihat_closed"]] == 1 and y[100, fine["hihat_closed"]] == 1  # pedal hats count as closed
    assert y[150].sum() == 0  # side stick: neither snare nor anything else
    assert train.targets_for(onsets, 200).shape == (200, 5)
