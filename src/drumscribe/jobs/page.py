"""A stored job as its HTML page: the view from ``views/html.py`` plus where the page finds the
original audio, the MIDI and the JSON (``drumscribe show JOB --format html``, ``drumscribe view JOB``).

The page shows the job's edited revision when it has one (``--revision model``: the model's), says
so in a line under the title, and is an editor: Save downloads edited.json from a page on disk
(``drumscribe edit JOB --import`` stores it); ``drumscribe edit`` and serve give it a server to save to.

Local mirror: links relative to the folder the page is saved in, so a page written beside the mirror
(or moved together with it) keeps working from disk. S3: presigned URLs, valid ``expires`` seconds.
``embed_audio`` puts the original inside the page instead (compressed; see ``views/embed.py``).
"""

from __future__ import annotations

import os
import webbrowser
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from drumscribe.config import Settings, load_settings
from drumscribe.errors import NotFoundError
from drumscribe.jobs.store import _storage, job_files

PAGES_DIR = ".views"  # under DRUMSCRIBE_HOME; bucket names cannot start with a dot, so no mirror clashes


def _local_url(path: Path, page_dir: Path | None) -> str:
    if page_dir is not None:
        try:
            return quote(Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix())
        except ValueError:  # another drive (Windows): no relative path exists
            pass
    return path.resolve().as_uri()


def job_page(
    job_id: str,
    settings: Settings | None = None,
    storage: Any = None,
    user: str | None = None,
    *,
    page_dir: str | os.PathLike | None = None,
    embed_audio: bool = False,
    expires: int = 3600,
    prefer_local: bool = False,
    transcription: Any = None,
    revision: str = "latest",
    found: Any = None,
    editor: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
    audio_url: str | None = None,
) -> str:
    """The HTML page of job ``job_id``, to be saved in folder ``page_dir`` (default: absolute links).

    ``revision``: ``latest`` (the edited one when there is one), ``model`` or ``edited``. ``found``:
    the job's ``edits.Revision`` when the caller already read it (not read again); ``transcription``
    (with ``storage``): show that one, as the model's. ``editor``: where the page saves
    (``views.html.render_html``; default: a download). ``links``/``audio_url``: instead of the
    stored files' own (``drumscribe edit`` serves them itself).
    """
    from drumscribe.downloads import download_name
    from drumscribe.jobs.edits import Revision, edited_midi, find_revision
    from drumscribe.keys import edited_key
    from drumscribe.views.embed import embeddable_audio
    from drumscribe.views.html import render_html

    if found is None and transcription is not None and storage is not None:
        from drumscribe.jobs.edits import model_revision

        storage, settings = _storage(settings, storage, prefer_local)
        sha = model_revision(storage.get(job_files(job_id, settings, storage, user)["json"]))
        found = Revision(transcription, "model", None, transcription, sha, storage)
    if found is None:  # no storage given: the active one, else the offline mirror (a job made before a bucket was set up)
        found = find_revision(job_id, revision, settings=settings, storage=storage, user=user, prefer_local=prefer_local)
    t, storage = found.transcription, found.storage
    storage, settings = _storage(settings, storage, prefer_local)
    files = job_files(job_id, settings, storage, user)
    if found.which == "edited":
        files = {"midi": edited_midi(storage, t.user_id or user or settings.user, job_id, found.edited),
                 "json": edited_key(t.user_id or user or settings.user, job_id)}
    source_key = t.source.key
    folder = Path(page_dir) if page_dir is not None else None
    local = storage.name == "local"

    def url(key: str, filename: str | None = None) -> str:
        if local:
            return _local_url(Path(storage.root) / key, folder)
        return storage.presign(key, expires=expires, filename=filename)  # S3 names the download

    names = {label: download_name(t.source.name, suffix, job_id) for label, suffix in (("MIDI", ".mid"), ("JSON", ".json"))}
    default_links = {"MIDI": url(files["midi"], names["MIDI"]), "JSON": url(files["json"], names["JSON"])}
    options: dict[str, Any] = {"links": links if links is not None else default_links,
                               "download_names": names,
                               "editor": {"mode": "download", "revision": found.current, "based_on": found.model_sha,
                                          **(editor or {})},
                               "revision_note": page_note(found)}
    if not local and links is None:
        options["links_expire"] = datetime.now(timezone.utc) + timedelta(seconds=expires)
    if embed_audio:
        if not source_key or not storage.exists(source_key):
            raise NotFoundError(f"the original audio of job {job_id!r} is not stored ({source_key or 'no upload key'}); "
                                "leave out --embed-audio")
        options["audio"], options["audio_type"] = embeddable_audio(storage.get(source_key), source_key)  # the stored key's type: a WAV is kept as .wav.flac
    elif audio_url is not None:
        options["audio_url"] = audio_url
    elif source_key and storage.exists(source_key):
        options["audio_url"] = url(source_key)
    return render_html(t, **options)


def page_note(found: Any) -> str | None:
    """The page's line about which revision it shows (None for a job never edited)."""
    if found.edited is None:
        return None
    if found.which == "edited":
        return f"Showing the {found.edited.describe()}, saved {found.edited.at.replace('T', ' ').rstrip('Z')} UTC."
    return f"Showing the model's revision; this job also has an {found.edited.describe()}."


def view_job(
    job_id: str,
    settings: Settings | None = None,
    storage: Any = None,
    user: str | None = None,
    *,
    open_browser: bool = True,
    embed_audio: bool = False,
    expires: int = 3600,
    prefer_local: bool = False,
    revision: str = "latest",
) -> Path:
    """Write the job's page under ``$DRUMSCRIBE_HOME/.views/`` and open it in the browser; its path."""
    from drumscribe.keys import sanitize_user_id, validate_job_id
    from drumscribe.transcription.result import write_atomic

    validate_job_id(job_id)
    settings = settings or load_settings()
    folder = Path(settings.home) / PAGES_DIR / sanitize_user_id(user or settings.user)
    folder.mkdir(parents=True, exist_ok=True)
    # job_page finds the job like show does: the active storage, else the offline mirror
    page = job_page(job_id, settings, storage, user, page_dir=folder, embed_audio=embed_audio, expires=expires,
                    prefer_local=prefer_local, revision=revision)
    path = write_atomic(folder / f"{job_id}.html", page)
    if open_browser:
        open_in_browser(path)
    return path


def open_in_browser(path: Path) -> bool:
    """Open a page in the default browser; False when none could be started (a server, say)."""
    try:
        return bool(webbrowser.open(Path(path).resolve().as_uri()))
    except webbrowser.Error:
        return False
