"""The madmom shim's deferred scipy modules (issue 22, point 8): madmom imports scipy.ndimage and
scipy.fftpack, our code paths never call them, so they are loaded only if something calls them.

Each check runs in a fresh process: the suite itself has imported scipy.ndimage long before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import soundfile as sf

from synth import SR, groove, render

SCRIPT = r"""
import json, sys
if sys.argv[2] == "real-first":
    import scipy.fftpack, scipy.ndimage  # already there when madmom imports: used as they are
from drumscribe.transcription.pipeline import transcribe

doc = json.loads(transcribe(sys.argv[1]).to_json())
doc.pop("created_at")
loaded = sorted(m for m in ("scipy.ndimage", "scipy.fftpack") if m in sys.modules)

import numpy as np
import madmom.audio.spectrogram, madmom.audio.stft, madmom.ml.nn.layers
x = np.random.default_rng(0).normal(size=(64, 8))
deferred = madmom.audio.spectrogram.maximum_filter(x, size=3)  # a path that does use one: the real function
fft = madmom.audio.stft.fftpack.fft(x[:, 0])
conv = madmom.ml.nn.layers._scipy_convolve(x, np.ones((3, 3)))
import scipy.fftpack, scipy.ndimage
same = bool(np.array_equal(deferred, scipy.ndimage.maximum_filter(x, size=3)) and np.array_equal(fft, scipy.fftpack.fft(x[:, 0]))
            and np.array_equal(conv, scipy.ndimage.convolve(x, np.ones((3, 3)))))
print(json.dumps({"doc": doc, "loaded": loaded, "same": same, "real": type(scipy.ndimage).__name__}))
"""


def run(path, mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path), mode], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_transcription_never_loads_the_deferred_modules_and_is_the_same_with_them(tmp_path):
    path = tmp_path / "groove.wav"
    sf.write(path, render(groove(4, bpm=120.0, start=0.5), 9.0, SR), SR, subtype="PCM_16")

    deferred, real = run(path, "deferred"), run(path, "real-first")

    assert deferred["loaded"] == []  # madmom's used code paths never called them
    assert real["loaded"] == ["scipy.fftpack", "scipy.ndimage"]
    assert deferred["doc"] == real["doc"] and len(deferred["doc"]["events"]) > 20  # the same transcription, to the bit
    assert deferred["same"] and real["same"]  # a deferred function is the real one once called
    assert deferred["real"] == "module"  # afterwards `import scipy.ndimage` is the real module, not the stand-in


def test_glibcs_allocator_keeps_freed_memory_when_our_process_asks():
    """drumscribe transcribe (and its workers) keep freed blocks for the next chunk: fewer page faults."""
    import ctypes
    import platform

    from drumscribe._allocator import keep_freed_memory

    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" and hasattr(ctypes.CDLL(None), "mallopt")
    assert keep_freed_memory() is expected
