"""Transcriptions for the view tests: a groove with a fill, built by hand (no model run); and audio."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.transcription.result import DrumEvent, ModelInfo, SourceInfo, Transcription

JOB = "20261201T090000Z-abcdef12"


def hit(t: float, instrument: str, velocity: int = 90) -> DrumEvent:
    return DrumEvent(round(t, 4), instrument, INSTRUMENTS[instrument].note, velocity, 0.9)


def groove(name: str = "groove.wav", *, bars: int = 2, model: str = "drumscribe-tcn") -> Transcription:
    """120 BPM from 0.5 s: 8th-note hats, snare on 2 and 4, kick on 1 and 3; the last bar ends with a
    tom fill and a crash on the next downbeat."""
    events = []
    for bar in range(bars):
        t0 = 0.5 + 2.0 * bar
        last = bar == bars - 1
        events += [hit(t0 + 0.25 * i, "hihat_closed", 100 if i % 2 == 0 else 70) for i in range(6 if last else 8)]
        events += [hit(t0 + 0.5, "snare", 95), hit(t0 + 1.5, "snare", 110)]
        events += [hit(t0, "kick", 105), hit(t0 + 1.0, "kick", 90)]
        if last:
            events += [hit(t0 + 1.5, "tom_high"), hit(t0 + 1.625, "tom_high", 80), hit(t0 + 1.75, "tom_low", 100), hit(t0 + 1.875, "tom_low")]
    end = 0.5 + 2.0 * bars
    events += [hit(end, "crash", 120), hit(end, "kick", 115)]
    events.sort(key=lambda e: e.time)
    beats = tuple(0.5 + 0.5 * i for i in range(4 * bars + 1))
    return Transcription(
        events=tuple(events), tempo=120.0, beats=beats, downbeats=beats[::4],
        source=SourceInfo(key=f"uploads/tester/20261201T090000Z_0123456789ab_{name}", name=name, duration=end + 1.0,
                          sample_rate=44100, channels=1),
        model=ModelInfo(name=model, version="1.4.0"), job_id=JOB, user_id="tester", created_at="2026-12-01T09:00:00Z",
    )


HOSTILE_NAME = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">"\'&.wav'


def hostile() -> Transcription:
    """Every string a job carries, chosen to break out of HTML, attributes or the script block."""
    t = groove(HOSTILE_NAME, model="</script><script>window.pwned=3</script>")
    odd = DrumEvent(1.1, '<img src=x onerror="window.pwned=4">', 99, 80, 0.5)
    return t.with_ids(events=tuple(sorted((*t.events, odd), key=lambda e: e.time)), job_id="20261201T090000Z-abcdef12")


def wav_bytes(seconds: float = 1.0, rate: int = 44100) -> bytes:
    """A quiet 220 Hz tone as a WAV file: an "original" that browsers and soundfile can play."""
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()
