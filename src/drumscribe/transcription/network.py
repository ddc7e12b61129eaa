"""The drum model: a small convolutional network run by ``madmom.ml.nn`` in numpy.

Architecture (see ``docs/model.md``): per-feature normalisation -> the (time, band) plane with two
channels (log spectrogram, positive difference) -> three 3x3 convolutions with ReLU and max-pooling
over frequency -> bands x channels flattened to one vector per frame -> 1-D convolutions over time
(kernel 3, dilations 1, 2, 4, 8, 16, residual) -> a per-frame sigmoid layer, one output per class.
No recurrence: every layer is an im2col + one matrix product, so the network runs far faster than
real time on one thread. Trained in PyTorch (``drumscribe.training``); the model file holds the
batch-norm-folded weights in a ``.npz`` with a JSON ``meta`` entry.

A model file may hold several such networks (``meta["members"]``, weights prefixed ``m0_``, ``m1_``
...), trained independently: they run as a ``madmom.ml.nn.NeuralNetworkEnsemble`` and their outputs
are averaged. Independent networks make different mistakes, so the average is better calibrated
and fires fewer false hits than either; the cost is one network pass per member.

Finer outputs (``meta["fine"]``, model 2.0): after its ``classes`` a member may have more outputs
that say *which* hi-hat (closed/open), tom (high/mid/low) or cymbal (crash/ride) a hit of a class
is. Detection stays on the classes, each averaged over the members that detect it: a member's
``"detect"`` is ``true`` (every class, the default), ``false`` (it only names hits, as in 2.0.0,
whose detection is model 1.4.0's two networks) or a list of the classes it detects (2.2: the
whole-kit network helps detect kick and cymbal). The finer outputs are averaged over the members that
have them (``ensemble_outputs``) and only name the hits (``subclass.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from drumscribe._madmom import madmom  # noqa: F401  (must come before any madmom.* import)
from drumscribe.errors import TranscriptionError
from madmom.ml.nn import NeuralNetwork, NeuralNetworkEnsemble
from madmom.ml.nn.activations import sigmoid
from madmom.ml.nn.layers import FeedForwardLayer, Layer

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODELS_DIR / "drums.npz"
_BLOCK = 256  # frames per im2col block in the 2-D convolutions (bounds memory)


def _relu(x: np.ndarray) -> np.ndarray:
    np.maximum(x, 0, out=x)
    return x


class NormalizeLayer(Layer):
    """(x - mean) / std per feature."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32)
        self.scale = (1.0 / np.asarray(std, np.float32)).astype(np.float32)

    def activate(self, data, **kwargs):
        return (np.asarray(data, np.float32) - self.mean) * self.scale


class SplitChannelsLayer(Layer):
    """(T, channels * bands) -> (T, bands, channels): feature blocks become channels."""

    def __init__(self, channels: int):
        self.channels = channels

    def activate(self, data, **kwargs):
        t = data.shape[0]
        return np.ascontiguousarray(data.reshape(t, self.channels, -1).transpose(0, 2, 1))


class Conv2DLayer(Layer):
    """'Same' 2-D convolution over (time, frequency), channels last, as im2col + matmul.

    ``weights``: (kt, kf, in, out); ``bias``: (out,). Zero padding at all borders. ``pool``: max-pool
    over frequency by this factor (remainder bands dropped, like torch), fused into the layer; the
    activation is applied after pooling (ReLU and max-pooling commute), on the smaller array.
    """

    def __init__(self, weights, bias, activation: str | None = "relu", pool: int = 1):
        w = np.asarray(weights, np.float32)
        self.kt, self.kf, self.cin, self.cout = w.shape
        # With few input channels: im2col columns from a sliding-window view, ordered (in, kt, kf), one
        # matrix product. With more (``by_row``): only the frequency taps are gathered, one block copy
        # each (a run of `in` contiguous values), and each time tap is a matrix product on a shifted,
        # contiguous slice of them: a third of the copying (measured: 15-45 % faster at 4-12
        # channels; at 2, as fast as the view with 12 outputs, so the first layer keeps the view)
        self.by_row = self.cin >= 4
        if self.by_row:  # per time tap, (kf * in, out)
            self.rows = [np.ascontiguousarray(w[i].reshape(-1, self.cout)) for i in range(self.kt)]
        else:  # (in * kt * kf, out)
            self.w = np.ascontiguousarray(w.transpose(2, 0, 1, 3).reshape(-1, self.cout))
        self.b = np.asarray(bias, np.float32)
        self.activation = activation
        self.pool = int(pool)

    def activate(self, data, **kwargs):
        t, f, c = data.shape
        pt, pf = self.kt // 2, self.kf // 2
        xp = np.zeros((t + 2 * pt, f + 2 * pf, c), np.float32)
        xp[pt : pt + t, pf : pf + f] = data
        p = self.pool
        fo = f // p
        out = np.empty((t, fo, self.cout), np.float32)
        if self.by_row:
            rows = np.empty((min(t, _BLOCK) + 2 * pt, f, self.kf, c), np.float32)
        else:
            windows = sliding_window_view(xp, (self.kt, self.kf), axis=(0, 1))  # (t, f, c, kt, kf), a view
        for s in range(0, t, _BLOCK):
            e = min(t, s + _BLOCK)
            n = e - s
            if self.by_row:
                for j in range(self.kf):
                    rows[: n + 2 * pt, :, j] = xp[s : e + 2 * pt, j : j + f]
                flat = rows[: n + 2 * pt].reshape(n + 2 * pt, f * self.kf * c)
                y = flat[0:n].reshape(n * f, -1) @ self.rows[0]
                for i in range(1, self.kt):
                    y += flat[i : i + n].reshape(n * f, -1) @ self.rows[i]
                y = y.reshape(n, f, self.cout)
            else:
                cols = np.ascontiguousarray(windows[s:e]).reshape(-1, c * self.kt * self.kf)
                y = (cols @ self.w).reshape(n, f, self.cout)
            if p > 1:
                m = y[:, 0 : fo * p : p]
                for k in range(1, p):
                    m = np.maximum(m, y[:, k : fo * p : p])
                y = m
            out[s:e] = y
        out += self.b
        if self.activation == "relu":
            _relu(out)
        return out


class FreqMaxPoolLayer(Layer):
    """Max-pool over frequency by ``size`` (remainder bands dropped, like torch)."""

    def __init__(self, size: int):
        self.size = size

    def activate(self, data, **kwargs):
        t, f, c = data.shape
        n = f // self.size
        return data[:, : n * self.size].reshape(t, n, self.size, c).max(axis=2)


class FlattenLayer(Layer):
    """(T, bands, channels) -> (T, bands * channels)."""

    def activate(self, data, **kwargs):
        return np.ascontiguousarray(data.reshape(data.shape[0], -1))


class TemporalConvLayer(Layer):
    """'Same' dilated 1-D convolution over time, im2col + matmul, optional residual.

    ``weights``: (k, in, out). ``residual``: output = input + activation(conv(input)).
    """

    def __init__(self, weights, bias, dilation: int = 1, activation: str | None = "relu", residual=False):
        w = np.asarray(weights, np.float32)
        self.k, self.cin, self.cout = w.shape
        self.taps = [np.ascontiguousarray(w[i]) for i in range(self.k)]  # (in, out) per tap
        self.b = np.asarray(bias, np.float32)
        self.dilation = int(dilation)
        self.activation = activation
        self.residual = bool(residual)

    def activate(self, data, **kwargs):
        t, c = data.shape
        p = self.dilation * (self.k // 2)
        xp = np.zeros((t + 2 * p, c), np.float32)
        xp[p : p + t] = data
        d = self.dilation
        # one matrix product per tap on shifted views: no (t, k * c) im2col copy to allocate and fill
        y = xp[0:t] @ self.taps[0]
        for i in range(1, self.k):
            y += xp[i * d : i * d + t] @ self.taps[i]
        y += self.b
        if self.activation == "relu":
            _relu(y)
        if self.residual:
            y += data
        return y


def build_layers(spec: list[dict], arrays, prefix: str = "") -> list[Layer]:
    """Layers from the architecture spec in the model metadata and the weight arrays.

    ``prefix``: the member's prefix (``"m0_"``...) in an ensemble file, ``""`` in a single-network one.
    """
    layers: list[Layer] = []
    for i, s in enumerate(spec):
        kind = s["type"]
        a = lambda name: arrays[f"{prefix}l{i}_{name}"]  # noqa: E731
        if kind == "normalize":
            layers.append(NormalizeLayer(a("mean"), a("std")))
        elif kind == "split_channels":
            layers.append(SplitChannelsLayer(s["channels"]))
        elif kind == "conv2d":
            layers.append(Conv2DLayer(a("w"), a("b"), s.get("activation", "relu"), s.get("pool", 1)))
        elif kind == "pool_freq":
            layers.append(FreqMaxPoolLayer(s["size"]))
        elif kind == "flatten":
            layers.append(FlattenLayer())
        elif kind == "tconv":
            layers.append(TemporalConvLayer(a("w"), a("b"), s.get("dilation", 1), s.get("activation", "relu"),
                                            s.get("residual", False)))
        elif kind == "dense_sigmoid":
            layers.append(FeedForwardLayer(a("w"), a("b"), activation_fn=sigmoid))
        else:
            raise ValueError(f"unknown layer type {kind!r}")
    return layers


def member_specs(meta: dict[str, Any]) -> list[tuple[str, list[dict]]]:
    """(weight prefix, layer spec) of each network in a model file: one, or an ensemble's members."""
    if "members" in meta:
        return [(f"m{j}_", m["layers"]) for j, m in enumerate(meta["members"])]
    return [("", meta["layers"])]


def receptive_context(spec: list[dict]) -> int:
    """Frames of context each side the network sees."""
    ctx = 0
    for s in spec:
        if s["type"] == "conv2d":
            ctx += s.get("kt", 3) // 2
        elif s["type"] == "tconv":
            ctx += s.get("dilation", 1) * (s.get("k", 3) // 2)
    return ctx


def detect_masks(classes: list[str], members: list[dict]) -> list[tuple[bool, ...]]:
    """Which classes each member detects, from its ``"detect"`` (true, false or a list of classes)."""
    masks = []
    for j, m in enumerate(members):
        d = m.get("detect", True)
        if isinstance(d, bool):
            masks.append((d,) * len(classes))
            continue
        unknown = sorted(set(d) - set(classes))
        if unknown:
            raise TranscriptionError(f"network {j} of the model detects unknown classes {unknown}")
        masks.append(tuple(c in d for c in classes))
    orphans = [c for i, c in enumerate(classes) if not any(mask[i] for mask in masks)]
    if orphans:
        raise TranscriptionError(f"no network of the model detects {orphans}")
    return masks


def ensemble_outputs(n_classes: int, detects: list[tuple[bool, ...]] | None = None):
    """madmom ``ensemble_fn``: each class averaged over the members that detect it (all by default),
    finer outputs over the members that have them. ``detects``: per member, one flag per class
    (``detect_masks``)."""
    masks = None if detects is None else np.array(detects, np.float32)

    def combine(predictions):
        # madmom squeezes a one-frame output to (outputs,): make every prediction (frames, outputs)
        preds = [np.atleast_2d(np.asarray(p, np.float32)) for p in predictions]
        w = np.ones((len(preds), n_classes), np.float32) if masks is None else masks
        base = sum(p[:, :n_classes] * w[j] for j, p in enumerate(preds)) / w.sum(axis=0)
        fine = [p[:, n_classes:] for p in preds if p.shape[1] > n_classes]
        if not fine:
            return base
        return np.concatenate([base, np.mean(fine, axis=0)], axis=1)

    return combine


class DrumModel:
    """A loaded drum model: metadata plus a ``madmom.ml.nn.NeuralNetwork`` (or an ensemble of them)."""

    def __init__(self, meta: dict[str, Any], arrays):
        self.metadata = dict(meta)
        self.name: str = meta["name"]
        self.version: str = meta["version"]
        self.classes: list[str] = list(meta["classes"])
        self.thresholds: dict[str, float] = {c: float(meta["thresholds"][c]) for c in self.classes}
        self.offset: float = float(meta.get("offset", 0.0))
        self.fps: float = float(meta["fps"])
        self.sample_rate: int = int(meta["sample_rate"])
        self.n_features: int = int(meta["n_features"])
        self.min_distance: float = float(meta.get("min_distance", 0.025))
        fine = meta.get("fine") or {}
        self.fine_classes: list[str] = list(fine.get("outputs", []))  # after the classes, see the module doc
        self.fine_groups: dict[str, list[str]] = {k: list(v) for k, v in fine.get("groups", {}).items()}
        self.open_hat: str = str(fine.get("open_hat", "rule"))  # "learnt": the open-hat output decides
        members = member_specs(meta)
        self.context_frames: int = int(
            meta.get("context_frames", max(receptive_context(spec) for _, spec in members)))
        networks = [NeuralNetwork(build_layers(spec, arrays, prefix)) for prefix, spec in members]
        self.detects: list[tuple[bool, ...]] = detect_masks(self.classes, meta.get("members", [{}]))
        # one member: the network itself; several: madmom averages their outputs (in this thread)
        self.network = networks[0] if len(networks) == 1 else NeuralNetworkEnsemble(
            networks, ensemble_fn=ensemble_outputs(len(self.classes), self.detects), num_threads=1)
        self.n_networks = len(networks)

    @property
    def n_outputs(self) -> int:
        return len(self.classes) + len(self.fine_classes)

    def all_activations(self, features: np.ndarray) -> np.ndarray:
        """(frames, n_features) -> (frames, classes + finer outputs) float32 in [0, 1]."""
        x = np.asarray(features, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise TranscriptionError(
                f"features have shape {x.shape}, the model {self.name} expects (frames, {self.n_features})"
            )
        if len(x) == 0:
            return np.zeros((0, self.n_outputs), np.float32)
        out = self.network(x)
        return np.ascontiguousarray(np.reshape(out, (len(x), self.n_outputs)), dtype=np.float32)

    def activations(self, features: np.ndarray) -> np.ndarray:
        """(frames, n_features) -> (frames, n_classes) float32 in [0, 1]: the detection outputs."""
        return np.ascontiguousarray(self.all_activations(features)[:, : len(self.classes)])

    def __repr__(self) -> str:
        return f"DrumModel({self.name} {self.version}, classes={self.classes})"


def load_model(path: str | Path | None = None) -> DrumModel:
    """Load a model file (``None``: the model shipped with the package)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
        return DrumModel(meta, arrays)
    except FileNotFoundError:
        raise TranscriptionError(f"drum model file not found: {path}",
                                 hint="reinstall drumscribe or pass an existing model file") from None
    except Exception as exc:  # corrupt zip, missing keys, bad JSON, wrong shapes
        raise TranscriptionError(f"drum model file {path} is unreadable or corrupt: {exc}",
                                 hint="reinstall drumscribe or re-export the model") from None
