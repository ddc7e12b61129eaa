"""Fine-tuning with the `train` extra (skipped without torch: CI installs only [test])."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fine-tuning needs the `train` extra")

from drumscribe.learning import examples as ex_mod  # noqa: E402
from drumscribe.learning import finetune  # noqa: E402
from drumscribe.learning.fit import FINE_TUNE  # noqa: E402
from drumscribe.transcription.network import DEFAULT_MODEL, DrumModel, load_model, member_specs  # noqa: E402
from tune_helpers import truth  # noqa: E402


def test_the_temporal_part_run_on_the_numpy_trunk_is_the_whole_torch_network():
    from drumscribe.training.export import model_from_npz

    model = load_model()
    feats = np.random.default_rng(0).random((300, model.n_features)).astype(np.float32) * 2
    for j, (_, spec) in enumerate(member_specs(model.metadata)):
        net = model_from_npz(DEFAULT_MODEL, j)
        z = finetune.trunk(ex_mod.networks(model)[j], feats, finetune.split_at(spec)).astype(np.float32)
        with torch.no_grad():
            whole = net(torch.from_numpy(feats)[None])[0].numpy()
            split = finetune.temporal(net, torch.from_numpy(z)[None])[0].numpy()
        assert np.abs(whole - split).max() < 0.02  # the trunk is cached as float16


def test_augmented_copies_move_the_labels_with_the_audio():
    rng = np.random.default_rng(3)
    signal = np.zeros(22050 * 2, np.float32)
    signal[22050] = 1.0  # a click at 1 s
    for _ in range(4):
        copy, stretch = finetune.augment(signal, rng, 22050)
        assert 0.95 <= stretch <= 1.05 and stretch != 1.0
        assert abs(np.argmax(np.abs(copy)) / 22050 - 1.0 * stretch) < 0.002
        assert np.abs(copy).max() > 0


def test_a_fine_tuned_model_is_a_model_file_that_runs_in_numpy(as_shipped, quiet_snare_model, takes, monkeypatch):
    as_shipped(quiet_snare_model)
    from drumscribe.jobs import profiles
    from drumscribe.learning import tune as tuning

    monkeypatch.setattr(finetune, "VARIANTS", 1)
    base = profiles.shipped_model()
    examples = [ex_mod.build(f"job{k}", path, truth(hits), base, keep_features=True) for k, (path, hits) in enumerate(takes[:3])]
    arrays = finetune.fine_tune(quiet_snare_model, examples, base, steps=30, threads=1)
    tuned = finetune.tuned_model(arrays)
    with np.load(quiet_snare_model) as shipped:
        changed = {k for k in shipped.files if k != "meta" and not np.array_equal(arrays[k], shipped[k])}
    # the trunk of every network (normalisation, 2-D convolutions: layers 0-3) is as shipped;
    # the temporal layers and outputs (5-10) of each detecting network moved
    assert not {k for k in changed if k.split("_")[1] in ("l0", "l2", "l3")}
    assert {f"m{j}_l{i}_w" for j in range(3) for i in (5, 10)} <= changed
    acts = tuned.activations(examples[0].feats)
    assert acts.shape == examples[0].acts.shape and np.isfinite(acts).all()

    fitted = tuning.fit.fit_detection(FINE_TUNE, [tuned.activations(e.feats) for e in examples], examples, base,
                                      model=tuned, arrays=arrays)
    data, _ = tuning.model_file(fitted, base, {"user": "alice"})
    reloaded = DrumModel.__new__(DrumModel)
    with np.load(io.BytesIO(data)) as npz:
        stored = {k: npz[k] for k in npz.files}
    import json

    meta = json.loads(str(stored.pop("meta")))
    reloaded.__init__(meta, stored)
    assert meta["tuning"] == {"user": "alice"} and meta["thresholds"] == fitted.thresholds
    assert np.allclose(reloaded.activations(examples[1].feats), tuned.activations(examples[1].feats), atol=1e-6)


def test_tune_tries_fine_tuning_when_torch_is_installed(tmp_path, settings, as_shipped, deaf_model, takes, monkeypatch):
    as_shipped(deaf_model)
    from drumscribe.learning.tune import tune
    from drumscribe.storage import LocalStorage
    from tune_helpers import correct

    storage = LocalStorage(tmp_path / "mirror")  # the storage side is tested without torch (test_tune.py)

    monkeypatch.setattr(finetune, "VARIANTS", 1)
    monkeypatch.setattr(finetune, "MIN_STEPS", 20)
    monkeypatch.setattr(finetune, "MAX_STEPS", 20)
    correct(storage, settings, "alice", takes[:3])
    report = tune(settings=settings, storage=storage, user="alice", threads=1)
    assert report.kinds == ["thresholds", "last_layer", "fine_tune"] and report.fine_tune == ""
    assert set(report.after) == {"thresholds", "last_layer", "fine_tune"}
    assert report.adopted and report.mean_after(report.chosen) > report.mean_before
