"""Make the example songs of docs/getting-started.md (synthesized: no recordings needed).

    .venv/bin/python docs/scripts/getting_started_audio.py ~/drums

groove.wav: a rock beat at 100 BPM, 16 bars, hi-hat opened on the last eighth of every other bar.
verse.wav: the same kit at 120 BPM, 12 bars, kick on 1, 3 and the "and" of 3, snare on 2 and 4.
two-hits.wav: one kick and one snare, three seconds apart: nothing to count a tempo from.
Rendered with tests/transcription/synth.py (deterministic), written as 16-bit stereo WAV.
"""
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "transcription"))
from synth import SR, render  # noqa: E402


def beat(bpm, bars, kicks, snares, open_every=0, start=0.5):
    """Hits of ``bars`` bars: kicks/snares at these eighth-note positions, hats on every eighth."""
    eighth = 60.0 / bpm / 2
    hits = []
    for bar in range(bars):
        t0 = start + bar * 8 * eighth
        for e in range(8):
            t = t0 + e * eighth
            if e in kicks:
                hits.append((t, "kick", 1.0))
            if e in snares:
                hits.append((t, "snare", 0.8))
            opened = open_every and e == 7 and bar % open_every == open_every - 1
            hits.append((t, "hihat_open" if opened else "hihat_closed", 0.6 if opened else 0.45))
    return sorted(hits), start + bars * 8 * eighth + 1.0


def write(path, hits, duration, seed):
    mono = render(hits, duration, seed=seed)
    sf.write(path, np.stack([mono, mono * 0.9], axis=1), SR, subtype="PCM_16")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "groove.wav", *beat(100, 16, kicks={0, 4}, snares={2, 6}, open_every=2), seed=1)
    write(folder / "verse.wav", *beat(120, 12, kicks={0, 4, 5}, snares={2, 6}), seed=2)
    write(folder / "two-hits.wav", [(0.5, "kick", 1.0), (3.5, "snare", 0.8)], 5.0, seed=3)
