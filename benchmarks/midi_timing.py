"""MIDI timing as a DAW reads it, on real recordings: each hit's time back through the tempo map.

    .venv/bin/python benchmarks/midi_timing.py      # needs ../shared/data/mdb-dev (skips what is missing)

For each development drum stem: transcribe it, write the MIDI both ways (``--midi-align audio``
and ``bar``) and with one fixed tempo (``--midi-tempo fixed``), read it back with mido the way a
DAW does (ticks -> seconds one tempo segment at a time with ``mido.tick2second``) and print, per
file, the worst difference between a hit's time in the MIDI and its time in the transcription
(minus ``midi_offset`` for ``bar``), in ms and in ticks at the local tempo; how many tempo events
the map has (``set_tempo`` messages, the lead-in's included) against the number of detected beats;
the detected tempo range from one beat to the next; how far the MusicXML and the tab agree
(notated hits / transcribed hits: the same quantisation drops only a drum hit twice in one cell).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import mido

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "mdb-dev"


def worst_error(data: bytes, times: list[float], shift: float) -> tuple[float, float, int]:
    mid = mido.MidiFile(file=io.BytesIO(data))
    tempos, now = [], 0
    for msg in mid.tracks[0]:
        now += msg.time
        if msg.type == "set_tempo":
            tempos.append((now, msg.tempo))

    def seconds(tick: int) -> tuple[float, float]:
        total, (start, us) = 0.0, tempos[0]
        for t, nxt in tempos[1:]:
            if t > tick:
                break
            total += mido.tick2second(t - start, mid.ticks_per_beat, us)
            start, us = t, nxt
        return total + mido.tick2second(tick - start, mid.ticks_per_beat, us), us / 1e6 / mid.ticks_per_beat

    ticks = []
    for track in mid.tracks[1:]:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on":
                ticks.append(now)
    got = sorted(seconds(t) for t in sorted(ticks))
    errors = [(abs(s - (t + shift)), abs(s - (t + shift)) / one) for (s, one), t in zip(got, sorted(times))]
    worst_ms = max(e for e, _ in errors) * 1000
    worst_ticks = max(r for _, r in errors)
    return worst_ms, worst_ticks, len(tempos)


def main() -> int:
    from drumscribe import render_musicxml, transcribe

    stems = sorted((DEV_DATA / "audio" / "drum_only").glob("*.wav"))
    if not stems:
        print(f"no development recordings in {DEV_DATA}: nothing to measure")
        return 0
    print(f"{'recording':34} {'hits':>5} {'beats':>5} {'BPM range':>11} {'tempos':>6} {'audio: worst':>17} {'bar: worst':>17} "
          f"{'fixed: worst':>17} {'notated':>8}")
    for path in stems:
        t = transcribe(path)
        times = [e.time for e in t.events]
        beats = list(t.beats)
        bpms = [60 / (b - a) for a, b in zip(beats, beats[1:])] or [t.tempo]
        audio = worst_error(t.to_midi(align="audio"), times, 0.0)
        bar = worst_error(t.to_midi(align="bar"), times, t.midi_offset)
        fixed = worst_error(t.to_midi(tempo="fixed"), times, 0.0)
        notated = render_musicxml(t).count("<unpitched>")
        print(f"{path.stem:34} {len(times):5} {len(beats):5} {min(bpms):5.0f}-{max(bpms):<5.0f} {audio[2]:6} "
              f"{audio[0]:6.3f} ms {audio[1]:4.2f} tk {bar[0]:6.3f} ms {bar[1]:4.2f} tk {fixed[0]:6.3f} ms {fixed[1]:4.2f} tk "
              f"{notated:4}/{len(times):<4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
