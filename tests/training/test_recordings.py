"""Real recordings as training clips (training.recordings) and the share of them in every batch.

No recording is needed: a made-up set laid out like MDB Drums (two tracks, one with a mix)."""

import json

import numpy as np
import pytest
import soundfile as sf

from drumscribe.training import recordings as rec
from drumscribe.training import render as rd


def _fake_set(root, sr=44100):
    (root / "audio" / "drum_only").mkdir(parents=True)
    (root / "audio" / "full_mix").mkdir(parents=True)
    (root / "annotations" / "subclass").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, with_mix in (("Alpha", True), ("Beta", False)):
        x = np.zeros(sr * 3, np.float32)
        for t in (0.5, 1.0, 1.5, 2.0):
            i = int(t * sr)
            x[i:i + 2000] += rng.standard_normal(2000).astype(np.float32) * np.exp(-np.arange(2000) / 300)
        sf.write(root / "audio" / "drum_only" / f"MusicDelta_{name}_Drum.wav", x * 0.5, sr)
        if with_mix:
            sf.write(root / "audio" / "full_mix" / f"MusicDelta_{name}_MIX.wav", np.stack([x, x], 1) * 0.4, sr)
        (root / "annotations" / "subclass" / f"MusicDelta_{name}_subclass.txt").write_text(
            "0.507 KD\n1.007 SST\n1.507 OHH\n2.007 TMB\n2.007 LFT\n")
    return root


def test_labels_become_roles_side_stick_and_tambourine_unlabelled_and_moved_to_the_attack(tmp_path):
    data = _fake_set(tmp_path / "set")
    onsets = rec.read_onsets(data / "annotations" / "subclass" / "MusicDelta_Alpha_subclass.txt")
    roles = [rd.ROLES[int(r)] for r in onsets[:, 1]]
    assert roles == ["kick", "side_stick", "hihat_open", "tom_low", "extra"]
    # MDB marks onsets ~7 ms after the attack the features see: labels move back by LABEL_SHIFT
    assert onsets[0, 0] == pytest.approx(0.507 - rec.LABEL_SHIFT, abs=1e-6)
    from drumscribe.training.dataset import ROLE_TO_CLASS
    assert rd.R["side_stick"] not in ROLE_TO_CLASS and rd.R["extra"] not in ROLE_TO_CLASS  # heard, never a class


def test_a_faster_version_moves_its_labels_with_the_audio():
    x = np.zeros(rd.SR * 2, np.float32)
    x[rd.SR] = 1.0  # an impulse at 1 s
    onsets = np.array([[1.0, rd.R["kick"], 100]], np.float32)
    y, o = rec.change_speed(x, onsets, 1.05)
    assert len(y) == pytest.approx(len(x) / 1.05, abs=2)
    assert np.argmax(np.abs(y)) / rd.SR == pytest.approx(o[0, 0], abs=2 / rd.SR)


def test_versions_are_clips_in_the_training_format_one_folder_per_track(tmp_path):
    from drumscribe.training.dataset import clip_files
    from drumscribe.transcription.features import FeatureProcessor

    data = _fake_set(tmp_path / "set")
    pool = [np.random.default_rng(1).standard_normal(rd.SR * 5).astype(np.float32)]  # a stand-in band
    fp = FeatureProcessor()
    for name in rec.track_names(data):
        rec.write_versions(rec.read_track(data, name), tmp_path / "out" / name, 4, 0, pool, fp)
    assert rec.track_names(data) == ["Alpha", "Beta"]
    files = clip_files(str(tmp_path / "out" / "Alpha"))
    assert len(files) == 4
    kinds = set()
    for f in files:
        d = np.load(f)
        meta = json.loads(str(d["meta"]))
        kinds.add(meta["kind"])
        assert meta["track"] == "Alpha" and meta["real"]
        assert d["feats"].shape[1] == 144 and np.isfinite(d["feats"].astype(np.float32)).all()
        assert len(d["onsets"]) == 5 and d["onsets"][:, 0].max() < d["feats"].shape[0] / 100
    beta = {json.loads(str(np.load(f)["meta"]))["kind"] for f in clip_files(str(tmp_path / "out" / "Beta"))}
    assert "mix" not in beta  # no mix recorded for that track: never a "mix" version of it


def test_a_share_of_every_batch_comes_from_the_recordings():
    torch = pytest.importorskip("torch")  # noqa: F841
    from drumscribe.training.train import batches

    synth = ([np.zeros((500, 4), np.float32)] * 3, [np.zeros((500, 5), np.float32)] * 3)
    real = ([np.ones((500, 4), np.float32)] * 2, [np.ones((500, 5), np.float32)] * 2)
    x, y = batches(*synth, np.random.default_rng(0), 8, 100, real, 0.25)
    # column 3 is a difference column, which the level augmentation leaves alone
    from_real = [bool(x[i, :, 3].max() > 0) for i in range(8)]
    assert sum(from_real) == 2 and y[:, :, 0].sum() > 0
    x0, _ = batches(*synth, np.random.default_rng(0), 8, 100)
    assert float(x0[:, :, 3].max()) == 0.0  # without recordings, synthetic crops only


def test_a_track_annotated_without_hi_hats_teaches_nothing_about_hi_hats(tmp_path):
    # two MDB stems annotate no hi-hat at all (one is ridden, one has a tambourine): their silence on
    # hats is not evidence, so hat targets there are unknown, and the loss skips them
    torch = pytest.importorskip("torch")
    from drumscribe.training.train import load_clips, masked_bce

    data = _fake_set(tmp_path / "set")  # its tracks have an open hat...
    assert rec.unknown_classes(rec.read_track(data, "Alpha")) == []
    (data / "annotations" / "subclass" / "MusicDelta_Beta_subclass.txt").write_text("0.507 KD\n1.007 SD\n")
    beta = rec.read_track(data, "Beta")  # ...this one has none
    assert rec.unknown_classes(beta) == ["hihat_closed"]
    from drumscribe.transcription.features import FeatureProcessor
    rec.write_versions(beta, tmp_path / "out" / "Beta", 1, 0, [np.zeros(rd.SR, np.float32)], FeatureProcessor())
    _, targs, metas = load_clips(str(tmp_path / "out" / "Beta"), fine=True)
    y = targs[0]
    from drumscribe.training.train import unknown_columns
    cols = unknown_columns(["hihat_closed"], fine=True)
    assert len(cols) == 3  # the class and its two finer outputs (closed, open)
    assert np.isnan(y[:, cols]).all() and not np.isnan(np.delete(y, cols, axis=1)).any()
    logits = torch.zeros((1,) + y.shape)
    yt = torch.from_numpy(y)[None]
    known = torch.from_numpy(np.delete(y, cols, axis=1))[None]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros_like(known), known)
    assert float(masked_bce(logits, yt, torch.ones(y.shape[1]))) == pytest.approx(float(expected), rel=1e-5)
