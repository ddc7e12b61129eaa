"""Make the example song of docs/views-notation-midi.md (synthesized: no recordings needed).

    .venv/bin/python docs/scripts/notation_midi_audio.py ~/drums

speedup.wav: rock drums that speed up from 110 to 126 BPM over 8 bars (2 BPM a bar), starting
0.8 s in: 8th-note hats, kick on 1 and the "and" of 3, snare on 2 and 4, the hi-hat opened on
the last 8th of every other bar, then a kick and an open hat on bar 9's downbeat. Rendered with
tests/transcription/synth.py (deterministic), written as 16-bit stereo WAV.
"""
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "transcription"))
from synth import SR, render  # noqa: E402


def speedup(bars=8, start=0.8, bpm_from=110.0, step=2.0):
    hits, t = [], start
    for bar in range(bars):
        eighth = 60.0 / (bpm_from + step * bar) / 2
        for e in range(8):
            if e in (0, 5):
                hits.append((t, "kick", 1.0))
            if e in (2, 6):
                hits.append((t, "snare", 0.8))
            opened = e == 7 and bar % 2 == 1
            hits.append((t, "hihat_open" if opened else "hihat_closed", 0.6 if opened else (0.55 if e % 2 == 0 else 0.4)))
            t += eighth
    hits += [(t, "kick", 1.0), (t, "hihat_open", 0.6)]
    return sorted(hits), t + 1.5


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    folder.mkdir(parents=True, exist_ok=True)
    hits, duration = speedup()
    mono = render(hits, duration, seed=4)
    sf.write(folder / "speedup.wav", np.stack([mono, mono * 0.9], axis=1), SR, subtype="PCM_16")
