"""Fine-tuning the model on a user's corrected recordings (the ``train`` extra: PyTorch).

The recipe's own parts do the work: ``training.export.model_from_npz`` turns each detecting network
of the model file into its torch ``DrumNet`` (batch norms folded, kept frozen), ``training.train``
makes the soft onset targets (``targets_for``), and ``training.export.to_arrays`` writes the tuned
networks back in the model file's own layout, so the tuned model runs in numpy like the shipped one.

What is tuned is each network's temporal part (the 1-D convolutions over time and the output
layer: 98 % of its weights). The 2-D convolutions that read the spectrogram (2 % of the weights,
but in torch most of a training step's time) stay as shipped, so their output is computed once per
recording, in numpy as at inference, and training runs on it: a step of the smaller network costs
0.06 CPU s instead of 0.15 for the whole network (one thread, 8 crops of 4 s), and what a kit, a
room and a style change is mostly which patterns over time make a hit, not what a spectrum is.

What is new here is the data: each corrected job's audio, plus ``VARIANTS`` copies of it with
augmentation a real session varies in (gain, an EQ tilt, a small speed change that moves pitch
and time together, as a tape or a resampler would), each hit labelled on the frame where the
shipped model's own activation peaks near the corrected time (a hit added on the editor's grid
is not on the attack). Training is short and anchored: a low learning rate, and an L2 pull toward
the shipped weights (L2-SP), so a few songs adjust the networks rather than replace what 28 hours
of training taught them.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from drumscribe.learning.examples import Example, class_of_instrument, features_of_samples
from drumscribe.learning.fit import FINE_TUNE, Fitted, aligned_frames, fit_detection

VARIANTS = 3  # augmented copies of each job, besides the recording itself
SPEEDS = ((24, 25), (49, 50), (51, 50), (26, 25))  # (up, down) resampling ratios: ±2 and ±4 % speed
LR = 2e-4
L2_SP = 1e-3  # pull toward the shipped weights (sum of squared differences)
BATCH, LENGTH = 8, 400  # crops of 4 s, as the recipe trains
STEPS_PER_SECOND = 1.0  # steps per fit: this many per second of corrected audio, within the bounds
MIN_STEPS, MAX_STEPS = 100, 400
MAX_SECONDS = 30 * 60  # more corrected audio than this is not fine-tuned on (memory: ~0.5 GB of cached trunk outputs)


def available() -> bool:
    """Whether torch (the ``train`` extra) is installed."""
    return importlib.util.find_spec("torch") is not None


# --- data -----------------------------------------------------------------------------------


def augment(samples: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, float]:
    """(an augmented copy, the factor every time in it was multiplied by)."""
    from scipy.signal import butter, resample_poly, sosfilt

    up, down = SPEEDS[int(rng.integers(len(SPEEDS)))]
    y = resample_poly(samples, up, down).astype(np.float32)  # played at down/up speed: times scale by up/down
    low = sosfilt(butter(1, rng.uniform(150, 600), btype="lowpass", fs=sample_rate, output="sos"), y)
    high = sosfilt(butter(1, rng.uniform(2000, 6000), btype="highpass", fs=sample_rate, output="sos"), y)
    y = y + rng.uniform(-0.5, 0.5) * low + rng.uniform(-0.5, 0.5) * high  # an EQ tilt: about ±3.5 dB per end
    y = y * 10 ** (rng.uniform(-12.0, 4.0) / 20)
    return np.asarray(y, np.float32), up / down


def labelled_onsets(ex: Example, model: Any) -> np.ndarray:
    """The job's corrected hits as the recipe's (time, role, velocity) rows, each on the frame where
    the shipped model peaks for its class near the corrected time."""
    from drumscribe.training import render

    to_class = class_of_instrument(model.classes)
    rows = []
    for name, times in ex.fine_refs.items():
        role = render.R.get(name)
        cls = to_class.get(name)
        if role is None or cls is None:
            continue
        act = ex.acts[:, list(model.classes).index(cls)]
        for f in aligned_frames(np.asarray(times), act, float(model.fps), float(model.offset)):
            rows.append((f / float(model.fps), role, 100.0))
    return np.asarray(rows, np.float32).reshape(-1, 3)


def versions(ex: Example, model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labelled onsets) of the job and of its ``VARIANTS`` augmented copies; computed once
    per job (every fold that trains on it reuses them), the copies seeded by the job id."""
    if "versions" not in ex.cache:
        import zlib

        from drumscribe.transcription import audio

        onsets = labelled_onsets(ex, model)
        out = [(ex.feats, onsets)]
        if ex.audio is not None and VARIANTS:
            rng = np.random.default_rng(zlib.crc32(ex.job_id.encode()))
            samples = audio.load(ex.audio, int(model.sample_rate)).samples[: int(ex.duration * model.sample_rate)]
            for _ in range(VARIANTS):
                y, stretch = augment(samples, rng, int(model.sample_rate))
                moved = onsets.copy()
                moved[:, 0] *= stretch
                out.append((features_of_samples(y, model), moved))
        ex.cache["versions"] = out
    return ex.cache["versions"]


def training_set(examples: Sequence[Example], model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labelled onsets) of every job and of its augmented copies."""
    return [v for ex in examples for v in versions(ex, model)]


def trunk_inputs(ex: Example, model: Any, j: int, upto: int) -> list[np.ndarray]:
    """Network ``j``'s trunk output on each version of the job (float16; computed once per job)."""
    from drumscribe.learning.examples import networks

    key = ("trunk", j)
    if key not in ex.cache:
        ex.cache[key] = [trunk(networks(model)[j], x, upto) for x, _ in versions(ex, model)]
    return ex.cache[key]


# --- training -------------------------------------------------------------------------------


def steps_for(seconds: float) -> int:
    return int(np.clip(seconds * STEPS_PER_SECOND, MIN_STEPS, MAX_STEPS))


def split_at(spec: list[dict]) -> int:
    """Index of a network's first temporal layer: what comes before it is its frozen trunk."""
    return next(i for i, s in enumerate(spec) if s["type"] == "tconv")


def trunk(network: Any, feats: np.ndarray, upto: int) -> np.ndarray:
    """The numpy network's layers before ``upto`` on ``feats``: (frames, bands * channels), float16."""
    x = np.asarray(feats, np.float32)
    for layer in network.layers[:upto]:
        x = layer(x)
    return np.asarray(x, np.float16)


def temporal(net: Any, z: Any) -> Any:
    """``DrumNet.forward`` from its trunk's output on: (B, T, bands * channels) -> logits (B, T, outputs).

    Mirrors the end of ``training.train.DrumNet.forward`` (``tests/learning/test_finetune.py`` checks
    that the two agree)."""
    import torch.nn.functional as F

    x = z.transpose(1, 2)
    x = net.drop(F.relu(net.bn0(net.t0(x))))
    for conv, bn in zip(net.tconv, net.tbn):
        x = x + net.drop(F.relu(bn(conv(x))))
    return net.out(x.transpose(1, 2))


def crops(inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray], rng: np.random.Generator, batch: int, length: int):
    """A batch of random crops (zero-padded when a recording is shorter), like ``training.train.batches``."""
    import torch

    xs = np.zeros((batch, length, inputs[0].shape[1]), np.float32)
    ys = np.zeros((batch, length, targets[0].shape[1]), np.float32)
    for b, i in enumerate(rng.integers(0, len(inputs), batch)):
        x, y = inputs[i], targets[i]
        s = int(rng.integers(0, len(x) - length)) if len(x) > length else 0
        xs[b, : min(length, len(x) - s)] = x[s : s + length]
        ys[b, : min(length, len(y) - s)] = y[s : s + length]
    return torch.from_numpy(xs), torch.from_numpy(ys)


def fine_tune(model_path: str | Path, examples: Sequence[Example], model: Any, *, steps: int | None = None,
              seed: int = 0, threads: int | None = None, progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """The model file's arrays with the temporal part of every detecting network fine-tuned on ``examples``."""
    import torch

    before = torch.get_num_threads()
    # one thread by default: the matrices are small; on a shared 2-core machine a step took 0.04-0.05 CPU s
    # with one thread and 0.10-0.31 CPU s (0.09-0.70 s wall) with two
    torch.set_num_threads(threads or 1)
    try:
        return _fine_tune(model_path, examples, model, steps=steps, seed=seed, progress=progress)
    finally:
        torch.set_num_threads(before)


def _fine_tune(model_path, examples, model, *, steps, seed, progress):
    import torch
    import torch.nn.functional as F

    from drumscribe.training.dataset import CLASSES
    from drumscribe.training.export import model_from_npz, to_arrays
    from drumscribe.training.train import targets_for
    from drumscribe.transcription.network import member_specs

    torch.manual_seed(seed)
    with np.load(model_path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    members = meta.get("members") or [meta]
    data = training_set(examples, model)
    steps = steps or steps_for(sum(ex.duration for ex in examples))
    edge = 16  # the recipe's: no loss on the frames at each crop edge
    for j, ((prefix, spec), member) in enumerate(zip(member_specs(meta), members)):
        if member.get("detect", True) is False:
            continue  # a network that only names hits keeps its weights
        net = model_from_npz(model_path, j)
        upto = split_at(spec)
        inputs = [z for ex in examples for z in trunk_inputs(ex, model, j, upto)]
        fine = net.cfg["n_classes"] > len(model.classes)
        targs = [targets_for(o, len(x), fine=fine) for x, o in data]
        for name, p in net.named_parameters():  # the trunk (2-D convolutions) stays as shipped
            p.requires_grad_(not name.startswith(("conv.", "bn2d.")))
        params = [p for p in net.parameters() if p.requires_grad]
        anchor = [p.detach().clone() for p in params]
        opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
        pos_weight = torch.tensor([1.0, 1.0, 1.0, 1.5, 1.5] + [1.5] * (net.cfg["n_classes"] - len(CLASSES)))  # the recipe's
        rng = np.random.default_rng([seed, j])
        net.train()
        start = time.perf_counter()
        for step in range(steps):
            z, y = crops(inputs, targs, rng, BATCH, LENGTH)
            logits = temporal(net, z)
            loss = F.binary_cross_entropy_with_logits(logits[:, edge:-edge], y[:, edge:-edge], pos_weight=pos_weight)
            loss = loss + L2_SP * sum(((p - a) ** 2).sum() for p, a in zip(params, anchor))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if progress is not None and (step + 1) % 100 == 0:
                progress(f"fine-tuning network {j + 1}: step {step + 1} of {steps} ({time.perf_counter() - start:.0f} s)")
        net.eval()
        _, tuned = to_arrays(net)
        arrays.update({prefix + k: v for k, v in tuned.items()})
    return arrays
def tuned_model(arrays: dict[str, np.ndarray]) -> Any:
    from drumscribe.transcription.network import DrumModel

    arrays = dict(arrays)
    meta = json.loads(str(arrays.pop("meta")))
    return DrumModel(meta, arrays)


def fitter(model_path: str | Path, threads: int | None = None, progress: Callable[[str], None] | None = None):
    """A ``fit.Fitter`` for the ``fine_tune`` kind: fine-tune, then thresholds and offset on its outputs."""

    def fit(examples: Sequence[Example], model: Any) -> Fitted:
        arrays = fine_tune(model_path, examples, model, threads=threads, progress=progress)
        tuned = tuned_model(arrays)
        acts = [np.asarray(tuned.activations(ex.feats), np.float32) for ex in examples]
        return fit_detection(FINE_TUNE, acts, examples, model, model=tuned, arrays=arrays)

    return fit
