"""The packaged drum model: numpy/madmom parity with the torch network, loading, a synthetic clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drumscribe.errors import DrumscribeError, TranscriptionError
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.transcription.network import DEFAULT_MODEL, DrumModel, load_model, member_specs

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def model() -> DrumModel:
    return load_model()


def test_parity_with_torch_export(model):
    fx = np.load(DATA / "parity.npz")
    got = model.all_activations(fx["input"])  # the classes and the finer outputs
    assert got.shape == fx["output"].shape
    assert np.abs(got - fx["output"]).max() < 1e-4


def test_parity_live_torch_rebuild(model):
    torch = pytest.importorskip("torch")
    from drumscribe.training.train import DrumNet

    # rebuild each torch net from the shipped (folded) weights: identity batch norms
    with np.load(DEFAULT_MODEL) as npz:
        arrays = {k: npz[k] for k in npz.files}
    members = model.metadata.get("members") or [model.metadata]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    x = np.random.default_rng(7).random((250, model.n_features)).astype(np.float32) * 2
    outputs = []
    for (prefix, spec), member in zip(member_specs(model.metadata), members):
        net = DrumNet(**member["torch_cfg"]).eval()
        w = lambda name: arrays[prefix + name]  # noqa: E731
        convs = [i for i, s in enumerate(spec) if s["type"] == "conv2d"]
        tconvs = [i for i, s in enumerate(spec) if s["type"] == "tconv"]
        dense = [i for i, s in enumerate(spec) if s["type"] == "dense_sigmoid"][0]
        with torch.no_grad():
            net.mean.copy_(t(w("l0_mean")))
            net.std.copy_(t(w("l0_std")))
            for conv, bn, i in zip(net.conv, net.bn2d, convs):
                conv.weight.copy_(t(w(f"l{i}_w").transpose(3, 2, 0, 1)))
                conv.bias.copy_(t(w(f"l{i}_b")))
                bn.reset_parameters()
            for (conv, bn), i in zip([(net.t0, net.bn0), *zip(net.tconv, net.tbn)], tconvs):
                conv.weight.copy_(t(w(f"l{i}_w").transpose(2, 1, 0)))
                conv.bias.copy_(t(w(f"l{i}_b")))
                bn.reset_parameters()
            net.out.weight.copy_(t(w(f"l{dense}_w").T))
            net.out.bias.copy_(t(w(f"l{dense}_b")))
            for bn in [*net.bn2d, net.bn0, *net.tbn]:
                bn.eps = 0.0
            outputs.append(torch.sigmoid(net(t(x)[None]))[0].numpy())
    assert len(outputs) == model.n_networks
    from drumscribe.transcription.network import ensemble_outputs

    expected = ensemble_outputs(len(model.classes), model.detects)(outputs)  # detecting members' classes
    assert np.abs(model.all_activations(x) - expected).max() < 1e-4


def _single_network_file(tmp_path, name, arrays, meta, prefix, spec, bias_shift=0.0):
    """One network of a model file, saved on its own (optionally with its output bias shifted)."""
    own = {k[len(prefix):]: v.copy() for k, v in arrays.items() if k.startswith(prefix) and k != "meta"}
    dense = [i for i, s in enumerate(spec) if s["type"] == "dense_sigmoid"][0]
    own[f"l{dense}_b"] = own[f"l{dense}_b"] + np.float32(bias_shift)
    single = {k: v for k, v in meta.items() if k not in ("members", "fine")} | {"layers": spec}
    path = tmp_path / name
    np.savez(path, meta=np.array(json.dumps(single)), **own)
    return path, own


def test_an_ensemble_file_averages_its_networks(tmp_path, model):
    """Several independently trained networks in one file run as madmom's NeuralNetworkEnsemble."""
    with np.load(DEFAULT_MODEL) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    prefix, spec = member_specs(meta)[0]
    a_path, a = _single_network_file(tmp_path, "a.npz", arrays, meta, prefix, spec)
    b_path, b = _single_network_file(tmp_path, "b.npz", arrays, meta, prefix, spec, bias_shift=-1.5)
    both = {f"m0_{k}": v for k, v in a.items()} | {f"m1_{k}": v for k, v in b.items()}
    ens_meta = {k: v for k, v in meta.items() if k not in ("layers", "members", "fine")}
    ens_meta["members"] = [{"layers": spec}, {"layers": spec}]
    np.savez(tmp_path / "ens.npz", meta=np.array(json.dumps(ens_meta)), **both)

    ens = load_model(tmp_path / "ens.npz")
    assert ens.n_networks == 2 and ens.context_frames == model.context_frames
    x = np.random.default_rng(5).random((180, model.n_features)).astype(np.float32) * 2
    one, other = load_model(a_path).activations(x), load_model(b_path).activations(x)
    assert np.abs(one - other).max() > 0.05  # the two members really differ
    assert np.abs(ens.activations(x) - (one + other) / 2).max() < 1e-6


def test_packaged_model_loads_with_thresholds(model):
    # three networks since 2.0 (the third names hits and, since 2.1, helps detect some classes): 2.2 MB;
    # the guard keeps the wheel small
    assert DEFAULT_MODEL.exists() and DEFAULT_MODEL.stat().st_size < 3 * 1024 * 1024
    assert model.classes and all(c in INSTRUMENTS for c in model.classes)
    assert set(model.thresholds) == set(model.classes)
    assert all(0 < v < 1 for v in model.thresholds.values())
    assert model.fps == 100 and model.sample_rate > 0 and model.context_frames > 0
    assert abs(model.offset) < 0.05
    json.dumps(model.metadata)  # plain JSON metadata
    x = np.random.default_rng(0).random((123, model.n_features)).astype(np.float32) * 3
    act = model.activations(x)
    assert act.shape == (123, len(model.classes)) and act.dtype == np.float32
    assert np.all((act >= 0) & (act <= 1))
    assert model.activations(x[:1]).shape == (1, len(model.classes))


def test_chunked_activations_match_whole(model):
    """The pipeline processes long files in chunks overlapping by context_frames."""
    x = np.random.default_rng(1).random((400, model.n_features)).astype(np.float32) * 2
    whole = model.activations(x)
    c = model.context_frames
    part = model.activations(x[200 - c : 300 + c])[c:-c]
    assert np.abs(part - whole[200:300]).max() < 1e-4


def test_missing_or_corrupt_model_file(tmp_path):
    with pytest.raises(TranscriptionError):
        load_model(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DrumscribeError) as exc:
        load_model(bad)
    assert "\n" not in str(exc.value)


def _synth_clip(sr: int, kicks, snares, hats, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    from scipy.signal import butter, sosfilt

    x = np.zeros(int(seconds * sr), np.float32)
    n = int(0.35 * sr)
    tt = np.arange(n) / sr
    freq = 50 + 110 * np.exp(-tt / 0.03)  # pitch sweep 160 -> 50 Hz
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-tt / 0.12)
    kick[: int(0.003 * sr)] += rng.standard_normal(int(0.003 * sr)) * 0.3  # beater click
    noise = sosfilt(butter(2, [1500, 9000], "bandpass", fs=sr, output="sos"), rng.standard_normal(n))
    snare = 0.6 * np.sin(2 * np.pi * 185 * tt) * np.exp(-tt / 0.05) + 0.7 * noise * np.exp(-tt / 0.08)
    m = int(0.08 * sr)
    hat = sosfilt(butter(4, 7000, "highpass", fs=sr, output="sos"), rng.standard_normal(m)) * np.exp(
        -np.arange(m) / sr / 0.02)
    for times, s, g in ((kicks, kick, 0.9), (snares, snare, 0.8), (hats, hat, 0.25)):
        for t in times:
            i = int(t * sr)
            seg = s[: len(x) - i]
            x[i : i + len(seg)] += g * seg
    return (x / np.abs(x).max() * 0.8).astype(np.float32)


def test_synthesized_kick_and_snare_are_found(model):
    from drumscribe.transcription.features import FeatureProcessor
    from drumscribe.transcription.peaks import detect_onsets

    beat = 0.5  # 120 BPM, 8 bars of a rock beat
    kicks = [0.25 + bar * 4 * beat + b * beat for bar in range(4) for b in (0, 2)]
    snares = [0.25 + bar * 4 * beat + b * beat for bar in range(4) for b in (1, 3)]
    hats = [0.25 + k * beat / 2 for k in range(32)]
    x = _synth_clip(model.sample_rate, kicks, snares, hats, 9.0)
    onsets = detect_onsets(model.activations(FeatureProcessor()(x)), model)
    for name, truth in (("kick", kicks), ("snare", snares)):
        found = np.array([o.time for o in onsets if INSTRUMENTS[o.instrument].eval_class == INSTRUMENTS[name].eval_class])
        assert len(found), f"no {name} found"
        hits = sum(np.min(np.abs(found - t)) <= 0.03 for t in truth)
        assert hits >= len(truth) - 1, f"{name}: {hits}/{len(truth)} found within ±30 ms"
        assert len(found) <= len(truth) + 2, f"{name}: {len(found)} detections for {len(truth)} hits"
