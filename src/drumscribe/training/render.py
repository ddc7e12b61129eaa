"""Synthesis of labelled drum performances for training: where each part lives.

* ``roles``: what a rendered hit is (``ROLES``, ``R``) and the sample rate (``SR``).
* ``performance.make_performance`` writes a drum performance as ``(time, role, velocity)``.
* ``kits``: the Hydrogen kits (``HydrogenKit``, ``render_hydrogen``), mixed and retuned kits,
  overhead bleed, the soundfonts' note maps, guitar strums.
* ``effects``: beater click, kick body, room, EQ, compression, the master bus.
* here: ``render_fluidsynth`` renders many clips of MIDI (drums on channel 10 and/or
  accompaniment) with one soundfont load, float output, chorus and reverb off, then cuts them
  apart; ``drum_midi`` writes a performance as MIDI; ``make_accompaniment`` is the 1.0.0 band.

Every name stays importable from this module (``render.R``, ``render.make_performance``...), as
the dataset code and the tests use it.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import soundfile as sf

from drumscribe.training.effects import (  # noqa: F401
    augment_drums,
    beater_click,
    compress,
    eq,
    kick_body,
    master,
    room_ir,
)
from drumscribe.training.kits import (  # noqa: F401
    AVL_KITS,
    AVL_NOTES,
    GM_NOTES,
    HYDROGEN_DIR,
    SOUNDFONTS,
    STRUMS_DIR,
    HydrogenKit,
    Instrument,
    _load_sample,
    _resolve_role,
    _retune,
    hydrogen_kits,
    mixed_kit,
    render_hydrogen,
    role_of,
    strum_overdub,
    sympathetic_bleed,
)
from drumscribe.training.performance import make_performance  # noqa: F401
from drumscribe.training.roles import HIHATS, ROLES, SR, TOMS, R  # noqa: F401

# --------------------------------------------------------------------------- accompaniment
SCALE = [0, 2, 4, 5, 7, 9, 11]


def make_accompaniment(rng, duration: float) -> list[tuple]:
    """MIDI notes (time, dur, channel, program, note, velocity) for a dense band part."""
    tempo = rng.uniform(70, 180)
    beat = 60 / tempo
    key = int(rng.integers(0, 12))
    minor = rng.random() < 0.4
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else SCALE
    prog = [int(d) for d in rng.choice(7, 4)]
    notes = []
    parts = []
    parts.append(("bass", 0, int(rng.choice([32, 33, 34, 35, 38, 39]))))
    parts.append(("guitar", 1, int(rng.choice([29, 30, 30, 29, 27, 25, 26]))))
    if rng.random() < 0.7:
        parts.append(("keys", 2, int(rng.choice([0, 1, 2, 4, 5, 16, 17, 18, 19]))))
    if rng.random() < 0.6:
        parts.append(("pad", 3, int(rng.choice([48, 49, 50, 52, 53, 54, 88, 89, 91, 61]))))
    if rng.random() < 0.7:
        parts.append(("lead", 4, int(rng.choice([52, 53, 54, 56, 65, 66, 71, 73, 80, 81, 85, 29, 30]))))
    if rng.random() < 0.4:
        parts.append(("guitar2", 5, int(rng.choice([27, 28, 29, 30, 24, 25]))))
    t = 0.0
    bar = 4 * beat
    while t < duration:
        for deg in prog:
            if t >= duration:
                break
            root = 36 + key + scale[deg]
            triad = [scale[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]
            for name, ch, pr in parts:
                if name == "bass":
                    step = beat / rng.choice([1, 2, 2, 4])
                    for k in range(int(bar / step)):
                        if rng.random() < 0.85:
                            n = root + (12 if rng.random() < 0.15 else 0) + (7 if rng.random() < 0.1 else 0)
                            notes.append((t + k * step, step * 0.9, ch, pr, n, int(rng.integers(80, 120))))
                elif name.startswith("guitar"):
                    step = beat / rng.choice([1, 2, 2, 4])
                    chord = [root + 12, root + 19, root + 24] if pr in (29, 30) else [48 + key + x for x in triad]
                    for k in range(int(bar / step)):
                        if rng.random() < 0.8:
                            for j, n in enumerate(chord):
                                notes.append((t + k * step + j * 0.004, step * 0.95, ch, pr, n, int(rng.integers(75, 120))))
                elif name == "keys":
                    step = beat * rng.choice([1, 2, 0.5])
                    for k in range(int(bar / step)):
                        for n in triad:
                            notes.append((t + k * step, step * 0.9, ch, pr, 60 + key + n, int(rng.integers(60, 105))))
                elif name == "pad":
                    for n in triad:
                        notes.append((t, bar, ch, pr, 60 + key + n, int(rng.integers(60, 100))))
                elif name == "lead":
                    tt = t
                    while tt < t + bar:
                        d = beat * rng.choice([0.5, 1, 1, 2])
                        n = 72 + key + scale[int(rng.integers(7))] - (12 if rng.random() < 0.4 else 0)
                        notes.append((tt, d * 0.95, ch, pr, n, int(rng.integers(70, 115))))
                        tt += d
            t += bar
    return [n for n in notes if n[0] < duration - 0.1]


def render_fluidsynth(soundfont: str, clips: list[tuple[float, list]], tmpdir: str) -> list[np.ndarray]:
    """Render several clips with one soundfont load.

    ``clips``: list of (duration, messages) with messages (time, dur, channel, program, note, vel)
    (channel 9 = drums: program selects the kit). Returns float32 mono audio per clip.
    """
    import mido

    gap = 3.0
    tpb = 2000  # tempo 1 s per beat -> 0.5 ms ticks
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    msgs = []  # (abs_time, order, msg)
    starts = []
    t0 = 0.5
    for duration, notes in clips:
        starts.append(t0)
        progs = {}
        for t, d, ch, pr, note, vel in notes:
            progs.setdefault(ch, pr)
        for ch, pr in progs.items():
            msgs.append((t0 - 0.3, 0, mido.Message("program_change", channel=ch, program=pr)))
            if ch != 9:
                msgs.append((t0 - 0.3, 0, mido.Message("control_change", channel=ch, control=7, value=110)))
        for t, d, ch, pr, note, vel in notes:
            msgs.append((t0 + t, 2, mido.Message("note_on", channel=ch, note=note, velocity=max(1, min(127, vel)))))
            msgs.append((t0 + t + d, 1, mido.Message("note_off", channel=ch, note=note, velocity=0)))
        end = t0 + duration
        for ch in range(16):
            msgs.append((end + 0.01, 1, mido.Message("control_change", channel=ch, control=120, value=0)))
            msgs.append((end + 0.01, 1, mido.Message("control_change", channel=ch, control=123, value=0)))
        t0 = end + gap
    msgs.sort(key=lambda m: (m[0], m[1]))
    last = 0
    for t, _, m in msgs:
        tick = int(round(t * tpb))
        track.append(m.copy(time=max(0, tick - last)))
        last = max(last, tick)
    midi_path = os.path.join(tmpdir, "clips.mid")
    wav_path = os.path.join(tmpdir, "clips.wav")
    mid.save(midi_path)
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(SR), "-R", "0", "-C", "0", "-O", "float",
         "-T", "wav", "-F", wav_path, soundfont, midi_path],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    audio, sr = sf.read(wav_path, dtype="float32", always_2d=True)
    assert sr == SR
    audio = audio.mean(axis=1)
    out = []
    for (duration, _), s in zip(clips, starts):
        i0 = int(round(s * SR))
        seg = audio[i0 : i0 + int(duration * SR)]
        out.append(np.pad(seg, (0, int(duration * SR) - len(seg))))
    return out


def drum_midi(events, program: int, rng, note_map: dict | None = None, channel: int = 9) -> list[tuple]:
    """MIDI notes for a performance: GM percussion on channel 10, or a kit's own map (AVL)."""
    notes = []
    note_map = note_map or GM_NOTES
    pick = {r: int(rng.choice(note_map[ROLES[r]])) for r in range(len(ROLES))}
    for t, role, vel in events:
        notes.append((t, 0.2, channel, program, pick[role], int(np.clip(vel * 127, 1, 127))))
    return notes
