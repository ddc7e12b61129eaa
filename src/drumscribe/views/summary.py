"""The few facts every view shows about a job (file, date, length, tempo, hits, model), as text."""

from __future__ import annotations

from typing import Any

from drumscribe.terminal import printable
from drumscribe.transcription.instruments import INSTRUMENTS


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def format_hits(counts: dict[str, int]) -> str:
    """``{"kick": 8, "snare": 4}`` -> ``"BD 8 SD 4"`` (the tab's labels)."""
    return " ".join(f"{INSTRUMENTS[n].label if n in INSTRUMENTS else n} {c}" for n, c in counts.items())


def format_date(created_at: str | None) -> str:
    return (created_at or "").replace("T", " ").rstrip("Z")[:16]


def source_name(transcription: Any) -> str:
    source = transcription.source
    return source.name or (source.key.rsplit("/", 1)[-1] if source.key else "") or "?"


def format_tempo(tempo: float | None, tracked: bool = True) -> str:
    """``120.0 BPM``; without a tempo, why: no steady pulse, or beats not tracked (``--no-beats``)."""
    if tempo is not None:
        return f"{tempo:.1f} BPM"
    return "no steady pulse" if tracked else "beats not tracked"


def model_name(transcription: Any) -> str:
    model = transcription.model
    return " ".join(part for part in (model.name, model.version) if part) or "?"


def summary_lines(transcription: Any, job_id: str | None = None) -> list[str]:
    """The header `drumscribe show` prints above the tab."""
    t = transcription
    return [
        f"job      {t.job_id or job_id or '?'}" + (f"  (user {t.user_id})" if t.user_id else ""),
        f"source   {printable(t.source.name or t.source.key or '?')}",
        f"created  {format_date(t.created_at)} UTC",
        f"length   {format_duration(t.duration)}   tempo {format_tempo(t.tempo)}   {len(t.beats)} beats",
        f"hits     {format_hits(t.counts()) or 'no hits'}",
    ]
