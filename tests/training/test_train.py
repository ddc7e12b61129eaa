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
    outs = []
    for ck in (a, b):
        net, _ = ex.model_from_ckpt(ck)
        with torch.no_grad():
            outs.append(torch.sigmoid(net(torch.from_numpy(x)[None]))[0].numpy())
    got = load_model(tmp_path / "ens.npz").activations(x)
    assert np.abs(got - np.mean(outs, axis=0)).max() < 1e-4
