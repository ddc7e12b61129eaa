"""Train the drum model (PyTorch, CPU) on clips written by ``drumscribe.training.dataset``.

    python -m drumscribe.training.train --train /work/data/train --val /work/data/val \
        --out /work/data/runs/r1 --steps 6000 --threads 2

Writes ``ckpt.pt`` (best synthetic-validation loss) and ``last.pt`` to ``--out``; export with
``python -m drumscribe.training.export``. Seeds are fixed; CPU results are reproducible for a
given thread count.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from drumscribe.training.dataset import CLASSES, FINE_CLASSES, FINE_GROUPS, ROLE_TO_CLASS, ROLE_TO_FINE, clip_files

CLASS_INDEX = {role: CLASSES.index(name) for role, name in ROLE_TO_CLASS.items()}
# outputs after the five classes (``--fine``): which hi-hat, tom or cymbal (dataset.FINE_CLASSES)
FINE_INDEX = {role: len(CLASSES) + FINE_CLASSES.index(name) for role, name in ROLE_TO_FINE.items()}
FPS = 100


class DrumNet(nn.Module):
    def __init__(self, n_bands: int, n_classes: int = 5, c1: int = 8, c2: int = 24, hidden: int = 80,
                 dilations=(2, 4, 8, 16), dropout: float = 0.15, double_first: bool = False):
        super().__init__()
        self.n_bands = n_bands
        self.cfg = dict(n_bands=n_bands, n_classes=n_classes, c1=c1, c2=c2, hidden=hidden,
                        dilations=list(dilations), dropout=dropout, double_first=double_first)
        self.register_buffer("mean", torch.zeros(2 * n_bands))
        self.register_buffer("std", torch.ones(2 * n_bands))
        convs = [nn.Conv2d(2, c1, 3, padding=1)] + ([nn.Conv2d(c1, c1, 3, padding=1)] if double_first else [])
        convs.append(nn.Conv2d(c1, c2, 3, padding=1))
        self.conv = nn.ModuleList(convs)
        self.bn2d = nn.ModuleList([nn.BatchNorm2d(c.out_channels) for c in convs])
        self.pool_after = [False] * (len(convs) - 2) + [True, True]
        fdim = c2 * ((n_bands // 3) // 3)
        self.t0 = nn.Conv1d(fdim, hidden, 3, padding=1)
        self.bn0 = nn.BatchNorm1d(hidden)
        self.tconv = nn.ModuleList([nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d) for d in dilations])
        self.tbn = nn.ModuleList([nn.BatchNorm1d(hidden) for _ in dilations])
        self.dilations = list(dilations)
        self.out = nn.Linear(hidden, n_classes)
        self.drop = nn.Dropout(dropout)
        self.frozen_bn = False  # fine-tuning a network whose batch norms were folded at export

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_bn:  # folded batch norms stay the identity they were set to
            for m in self.modules():
                if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    m.eval()
        return self

    def forward(self, x):  # x: (B, T, 2*n_bands) -> logits (B, T, n_classes)
        x = (x - self.mean) / self.std
        b, t, _ = x.shape
        x = x.reshape(b, t, 2, self.n_bands).permute(0, 2, 1, 3)  # (B, 2, T, bands)
        for conv, bn, pool in zip(self.conv, self.bn2d, self.pool_after):
            x = F.relu(bn(conv(x)))
            if pool:
                x = F.max_pool2d(x, (1, 3))
        x = x.permute(0, 2, 3, 1).reshape(b, t, -1).transpose(1, 2)  # (B, bands*C, T)
        x = self.drop(F.relu(self.bn0(self.t0(x))))
        for conv, bn in zip(self.tconv, self.tbn):
            x = x + self.drop(F.relu(bn(conv(x))))
        return self.out(x.transpose(1, 2))


def targets_for(onsets: np.ndarray, n_frames: int, n_classes: int = 5, fine: bool = False) -> np.ndarray:
    """Soft onset targets (frame 1, neighbours 0.5) per class; with ``fine`` also per finer class."""
    y = np.zeros((n_frames, n_classes + (len(FINE_CLASSES) if fine else 0)), np.float32)
    for t, role, _ in onsets:
        cols = [c for c in (CLASS_INDEX.get(int(role)), FINE_INDEX.get(int(role)) if fine else None) if c is not None]
        i = int(round(t * FPS))
        for c in cols:
            for j, v in ((i - 1, 0.5), (i, 1.0), (i + 1, 0.5)):
                if 0 <= j < n_frames:
                    y[j, c] = max(y[j, c], v)
    return y


def unknown_columns(classes: list[str], fine: bool = False) -> list[int]:
    """Target columns of classes a clip's labels say nothing about: the class and its finer outputs."""
    cols = []
    for c in classes:
        cols.append(CLASSES.index(c))
        if fine:
            cols += [len(CLASSES) + FINE_CLASSES.index(n) for n in FINE_GROUPS.get(c, [])]
    return cols


def load_clips(folders: str, fine: bool = False):
    """Clips from one folder or several (comma-separated).

    A clip whose meta lists ``"unknown"`` classes (a recording annotated without them, so their
    absence proves nothing) gets NaN targets there: no loss either way (``masked_bce``)."""
    feats, targs, metas = [], [], []
    for f in clip_files(folders):
        d = np.load(f)
        x = d["feats"]
        feats.append(x)
        meta = json.loads(str(d["meta"]))
        y = targets_for(d["onsets"], len(x), fine=fine)
        if meta.get("unknown"):
            y[:, unknown_columns(meta["unknown"], fine)] = np.nan
        targs.append(y)
        metas.append(meta)
    return feats, targs, metas


def masked_bce(logits, y, pos_weight):
    """Binary cross-entropy over the labelled targets only (NaN = unknown)."""
    known = ~torch.isnan(y)
    if bool(known.all()):  # the usual case: exactly the plain mean
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    per = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(y), pos_weight=pos_weight, reduction="none")
    return (per * known).sum() / known.sum().clamp(min=1)


def batches(feats, targs, rng, batch: int, length: int, real=None, real_share: float = 0.0):
    """A batch of random crops; with ``real`` = (feats, targs) of recordings, ``real_share`` of the
    crops come from them (a fixed number per batch, so every step sees some real audio)."""
    n_real = int(round(batch * real_share)) if real and real[0] else 0
    pick = [(feats, targs, int(i)) for i in rng.integers(0, len(feats), batch - n_real)]
    if n_real:
        pick += [(real[0], real[1], int(i)) for i in rng.integers(0, len(real[0]), n_real)]
    xs, ys = [], []
    for fs, ts, i in pick:
        x, y = fs[i], ts[i]
        if len(x) <= length:
            s = 0
        else:
            s = int(rng.integers(0, len(x) - length))
        xx = np.zeros((length, x.shape[1]), np.float32)
        yy = np.zeros((length, y.shape[1]), np.float32)
        seg = x[s : s + length]
        xx[: len(seg)] = seg
        yy[: len(seg)] = y[s : s + length]
        if rng.random() < 0.3:  # level augmentation in the log domain (spec columns only shift)
            nb = x.shape[1] // 2
            xx[:, :nb] = np.maximum(xx[:, :nb] + rng.uniform(-0.5, 0.5), 0)
        xs.append(xx)
        ys.append(yy)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def evaluate(model, feats, targs, length=1500):
    model.eval()
    losses = []
    with torch.no_grad():
        for x, y in zip(feats, targs):
            xx = torch.from_numpy(x.astype(np.float32))[None]
            yy = torch.from_numpy(y)[None]
            losses.append(F.binary_cross_entropy_with_logits(model(xx), yy).item())
    model.train()
    return float(np.mean(losses))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--val", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--length", type=int, default=400)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--minutes", type=float, default=None,
                   help="train for this wall-clock budget instead of --steps (LR schedule follows elapsed time)")
    p.add_argument("--init", type=Path, default=None, help="continue from a checkpoint")
    p.add_argument("--init-npz", type=Path, default=None,
                   help="continue from a network of a package model file (batch norms folded: kept frozen)")
    p.add_argument("--init-member", type=int, default=0, help="which network of an ensemble --init-npz holds")
    p.add_argument("--fine", action="store_true",
                   help="also train the finer outputs (open hat, three toms, crash/ride) after the five classes")
    p.add_argument("--c1", type=int, default=8, help="channels of the first 2-D conv (from scratch only)")
    p.add_argument("--c2", type=int, default=24, help="channels of the second 2-D conv (from scratch only)")
    p.add_argument("--hidden", type=int, default=80, help="width of the temporal convolutions (from scratch only)")
    p.add_argument("--real", default=None,
                   help="folders of clips made from recordings (training.recordings), comma-separated")
    p.add_argument("--real-share", type=float, default=0.25, help="share of every batch cropped from --real")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    feats, targs, _ = load_clips(a.train, a.fine)
    vfeats, vtargs, _ = load_clips(a.val, a.fine)
    real = load_clips(a.real, a.fine)[:2] if a.real else None
    hours = sum(len(x) for x in feats) / FPS / 3600
    print(f"loaded {len(feats)} train clips ({hours:.2f} h), {len(vfeats)} val clips"
          + (f", {len(real[0])} clips of recordings ({sum(len(x) for x in real[0]) / FPS / 3600:.2f} h)" if real else "")
          + f" in {time.time() - t0:.0f}s", flush=True)
    n_feat = feats[0].shape[1]
    init = torch.load(a.init) if a.init else None
    cfg = dict(c1=a.c1, c2=a.c2, hidden=a.hidden)
    if init:  # fine-tuning keeps the architecture of the checkpoint
        cfg = {k: init["cfg"][k] for k in cfg}
    n_out = len(CLASSES) + (len(FINE_CLASSES) if a.fine else 0)
    if a.init_npz:
        from drumscribe.training.export import model_from_npz

        model = model_from_npz(a.init_npz, a.init_member, n_classes=n_out)
    else:
        model = DrumNet(n_feat // 2, n_out, **cfg)
        # feature normalisation from a sample of the training set
        sample = np.concatenate([f[::7].astype(np.float32) for f in feats[:: max(1, len(feats) // 300)]])
        model.mean.copy_(torch.from_numpy(sample.mean(0)))
        model.std.copy_(torch.from_numpy(sample.std(0) + 1e-3))
    if init:  # fine-tuning: keep the original normalisation and weights
        model.load_state_dict(init["state"])
        model.frozen_bn = bool(init.get("frozen_bn", False))  # a fine-tune of a shipped network stays one
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)

    def lr_at(frac: float) -> float:  # 3 % linear warm-up, then cosine to 2 % of the peak
        if frac < 0.03:
            return a.lr * (0.1 + 0.9 * frac / 0.03)
        return a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - 0.03) / 0.97))))

    pos_weight = torch.tensor([1.0, 1.0, 1.0, 1.5, 1.5] + [1.5] * (n_out - len(CLASSES)))
    best = math.inf
    log = []
    t_start = time.time()
    edge = 16  # no loss on crop edges (zero padding there never happens inside a real file)
    step = 0
    while True:
        step += 1
        frac = (time.time() - t_start) / (a.minutes * 60) if a.minutes else (step - 1) / a.steps
        for g in opt.param_groups:
            g["lr"] = lr_at(frac)
        x, y = batches(feats, targs, rng, a.batch, a.length, real, a.real_share)
        logits = model(x)
        loss = masked_bce(logits[:, edge:-edge], y[:, edge:-edge], pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = frac >= 1.0 if a.minutes else step >= a.steps
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr_at(frac):.2e} {time.time() - t_start:.0f}s", flush=True)
        if step % a.eval_every == 0 or last:
            vl = evaluate(model, vfeats, vtargs)
            log.append({"step": step, "val_loss": vl, "time": time.time() - t_start})
            print(f"== step {step} val_loss {vl:.4f}", flush=True)
            ck = {"state": model.state_dict(), "cfg": model.cfg, "classes": CLASSES, "step": step,
                  "fine_classes": FINE_CLASSES if a.fine else [], "frozen_bn": model.frozen_bn,
                  "val_loss": vl, "train_hours": hours, "n_train_clips": len(feats), "args": vars(a) | {"out": str(a.out), "init": str(a.init), "init_npz": str(a.init_npz)}}
            torch.save(ck, a.out / "last.pt")
            if vl < best:
                best = vl
                torch.save(ck, a.out / "ckpt.pt")
            (a.out / "log.json").write_text(json.dumps(log, indent=1))
        if last:
            break


if __name__ == "__main__":
    main()
