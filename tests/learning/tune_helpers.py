"""Helpers the tuning tests share (a module, not conftest, so tests can import them)."""

from __future__ import annotations

from synth import groove

NOTES = {"kick": 36, "snare": 38, "hihat_closed": 42}
TEMPOS = (96, 110, 124, 138)
LABEL_OFFSET = 0.007  # the corrections' convention: hits written 7 ms after the attack, like the model's


def take_hits(k: int):
    """Take ``k``: three bars of a rock beat, each take at its own tempo and start."""
    return groove(3, bpm=TEMPOS[k % len(TEMPOS)], start=0.4 + 0.05 * k)


def truth(hits):
    from drumscribe.transcription.result import DrumEvent

    return [DrumEvent(round(t + LABEL_OFFSET, 4), name, NOTES[name], 100, 1.0) for t, name, _ in hits]


def correct(storage, settings, user: str, takes, *, unchanged: bool = False) -> list[str]:
    """Transcribe each take as ``user`` and save its true hits as the job's edit; the job ids.

    ``unchanged``: save the model's own events (a user who looked and changed nothing)."""
    from drumscribe.jobs.edits import find_revision, save_edited
    from drumscribe.jobs.run import transcribe_and_store

    jobs = []
    for path, hits in takes:
        result, job = transcribe_and_store(path, storage=storage, settings=settings, user_id=user)
        revision = find_revision(job.job_id, storage=storage, user=user, settings=settings)
        events = list(result.events) if unchanged else truth(hits)
        save_edited(job.job_id, events, parent_revision=revision.current, storage=storage, user=user, settings=settings,
                    via="import-json")
        jobs.append(job.job_id)
    return jobs
