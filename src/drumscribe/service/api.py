"""The JSON API (``/api``). Every route resolves the caller's user from the token first.

Keys a caller names are checked against that user's prefixes (``uploads/{user}/``,
``processed/{user}/{job}/``) before any storage call, so no route reads or writes another
user's objects, and job ids go through ``keys.validate_job_id``.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from starlette.datastructures import UploadFile as StarletteUpload
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError, InputError, InvalidKeyError, NotFoundError
from drumscribe.service import policy, runner as jobs
from drumscribe.service.auth import Unauthorized
from drumscribe.service.context import Context
from drumscribe.service.s3service import LOCAL_FILES_PATH, LOCAL_UPLOAD_PATH

router = APIRouter(prefix="/api")
FORM_OVERHEAD = 64 * 1024  # room for the form fields around the file in a multipart body
LINK_SECONDS = 3600  # how long the result page's links (original, MIDI, JSON) work


def context(request: Request) -> Context:
    return request.app.state.drumscribe


def current_user(request: Request) -> str:
    try:
        return context(request).auth.user_for(request.headers.get("authorization"))
    except Unauthorized as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def job_id_of(job_id: str) -> str:
    try:
        return keys.validate_job_id(job_id)
    except InvalidKeyError as exc:
        raise HTTPException(400, str(exc)) from None


# --- models (they make the OpenAPI document) ----------------------------------------------


class UploadRequest(BaseModel):
    filename: str = Field(..., max_length=1024, examples=["song.wav"])
    size: int = Field(..., ge=1, description="bytes; must be within the upload limit")
    content_type: Optional[str] = Field(None, examples=["audio/wav"])
    sha256: Optional[str] = Field(None, pattern="^[0-9a-f]{64}$", description="hex SHA-256 of the file, if the browser computed it")


class UploadTicket(BaseModel):
    key: str = Field(..., description="where the file will be stored: uploads/{user}/{timestamp}_{hash}_{filename}")
    url: str = Field(..., description="POST the form here: the S3 bucket, or this app's /api/uploads/local without S3")
    fields: dict[str, str] = Field(..., description="form fields to send before the file (the file goes last, as 'file')")
    method: str = "POST"
    backend: str = Field(..., description="s3 or local")
    max_bytes: int
    expires_in: int


class JobRequest(BaseModel):
    upload_key: str = Field(..., description="the key of a finished upload (UploadTicket.key)")
    force: bool = Field(False, description="transcribe even if an earlier job has the same content, model and options "
                                           "(default: that job answers)")


class JobStatus(BaseModel):
    job_id: str
    state: str = Field(..., description="queued, running, done, failed or interrupted")
    filename: Optional[str] = None
    error: Optional[str] = None
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    retryable: bool = False
    answered_by: Optional[str] = Field(None, description="the earlier job with the same content, model and options whose "
                                                         "results answer this one (nothing was transcribed again)")
    result: Optional[dict[str, Any]] = Field(None, description="when done: duration, tempo, counts, midi_url, json_url, "
                                                               "midi_name, json_name (what the downloads are saved as), view_url; "
                                                               "edited (revision, at, summary, via; null when never edited) and "
                                                               "revision (what a PUT .../edited names in If-Match). Counts and "
                                                               "links are the edited revision's when there is one")


class JobList(BaseModel):
    user: str
    jobs: list[JobStatus]


class EditedEvent(BaseModel):
    time: float = Field(..., ge=0, description="seconds from the start of the audio")
    instrument: str = Field(..., max_length=40, examples=["tom_low"], description="a drumscribe instrument name")
    velocity: int = Field(100, ge=1, le=127)
    confidence: float = Field(1.0, ge=0, le=1, description="1 for a hit a person added")


class EditRequest(BaseModel):
    events: list[EditedEvent] = Field(..., max_length=200_000, description="every hit of the corrected transcription")


class EditResult(BaseModel):
    revision: str = Field(..., description="the new revision (also the response's ETag)")
    based_on: str = Field(..., description="SHA-256 of the model's transcription.json")
    parent: str = Field(..., description="the revision this save started from (the If-Match)")
    at: str
    summary: dict[str, int] = Field(..., description="against the model: added, removed, moved, relabelled")
    note: str = Field(..., examples=["edited revision (1 added, 1 removed)"])


class ServiceInfo(BaseModel):
    user: str
    backend: str
    bucket: Optional[str]
    max_bytes: int = Field(..., description="the upload limit: what is stored must fit it")
    max_wav_bytes: int = Field(..., description="a WAV or AIFF may be sent up to this size: it is then stored as a "
                                                "lossless FLAC, which must fit max_bytes (as with the CLI)")
    auth_required: bool
    workers: int


# --- routes --------------------------------------------------------------------------------


@router.get("/info", response_model=ServiceInfo, summary="Who you are and how uploads work")
def info(request: Request, user: str = Depends(current_user)) -> ServiceInfo:
    ctx = context(request)
    from drumscribe.service.stored import FLAC_ALLOWANCE

    return ServiceInfo(user=user, backend=ctx.service.backend, bucket=ctx.service.storage.bucket,
                       max_bytes=ctx.settings.max_upload_bytes, max_wav_bytes=ctx.settings.max_upload_bytes * FLAC_ALLOWANCE,
                       auth_required=ctx.auth.required, workers=ctx.workers)


@router.post("/uploads", response_model=UploadTicket, status_code=201, summary="Create an upload (a presigned POST)",
             responses={413: {"description": "over the upload limit"}, 415: {"description": "not audio"}})
async def create_upload(body: UploadRequest, request: Request, user: str = Depends(current_user)) -> UploadTicket:
    from drumscribe.service.stored import upload_bound

    ctx = context(request)
    limit = upload_bound(ctx.settings, body.filename)  # a WAV may be sent bigger: it is stored as FLAC (service/stored.py)
    if body.size > limit:
        raise HTTPException(413, _too_big_to_send(body.filename, body.size, limit, ctx.settings))
    from drumscribe.transcription.audio import is_audio_name

    try:
        content_type = policy.audio_content_type(body.content_type, body.filename)
        if not is_audio_name(body.filename):
            raise InputError(f"{body.filename!r} does not have an audio file extension")
    except DrumscribeError as exc:
        raise HTTPException(415, str(exc)) from None
    # the key's hash is the file's SHA-256 when the browser computed it, else a random nonce
    digest = body.sha256 or secrets.token_hex(32)
    key = keys.upload_key(user, body.filename, digest)
    post = await ctx.service.presigned_post(key, user_id=user, max_bytes=limit, content_type=content_type)
    return UploadTicket(key=key, url=post["url"], fields=post["fields"], backend=ctx.service.backend,
                        max_bytes=limit, expires_in=ctx.service.upload_seconds)


@router.post(LOCAL_UPLOAD_PATH.removeprefix("/api"), status_code=204, summary="Receive an upload (local mirror only)",
             description="What S3 does for a presigned POST, for when no bucket is configured: the signed policy is "
                         "enforced. A multipart/form-data body: the fields of the upload ticket, then the file as 'file'.")
async def local_upload(request: Request, user: str = Depends(current_user)) -> Response:
    ctx = context(request)
    if ctx.service.backend != "local":
        raise HTTPException(404, "uploads go to S3: use the url of POST /api/uploads")
    from drumscribe.service.stored import FLAC_ALLOWANCE

    declared = request.headers.get("content-length", "")  # before reading a byte: the biggest any ticket allows
    if declared.isdigit() and int(declared) > ctx.settings.max_upload_bytes * FLAC_ALLOWANCE + FORM_OVERHEAD:
        raise HTTPException(413, f"over the {ctx.settings.max_upload_mb * FLAC_ALLOWANCE:g} MB an upload may send")
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, StarletteUpload):
        raise HTTPException(400, "the form has no file (send it last, named 'file')")
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    try:
        key = ctx.service.check_local_post(fields, file.size or 0)
        jobs.check_upload_key(user, key)  # the policy is the app's own, but the token's user must own the key too
    except DrumscribeError as exc:
        raise HTTPException(403, str(exc)) from None
    await ctx.service.upload_file(file, key, content_type=fields.get("Content-Type"))
    return Response(status_code=204)


@router.post("/jobs", response_model=JobStatus, status_code=202, summary="Start a job on an upload")
async def start_job(body: JobRequest, request: Request, user: str = Depends(current_user)) -> JobStatus:
    ctx = context(request)
    try:
        key = jobs.check_upload_key(user, body.upload_key)
    except InvalidKeyError as exc:
        raise HTTPException(403, str(exc)) from None
    except DrumscribeError as exc:
        raise HTTPException(415, str(exc)) from None
    try:
        head = await ctx.service.head(key)
    except NotFoundError:
        raise HTTPException(404, f"no upload {key}: POST the file first") from None
    from drumscribe.service.stored import upload_bound

    bound = upload_bound(ctx.settings, key)  # within it, the job stores a WAV as FLAC if it must
    if head.size > bound:
        raise HTTPException(413, _too_big_to_send(jobs.filename_of(key), head.size, bound, ctx.settings))
    record = await asyncio.to_thread(ctx.runner.submit, user, key, force=body.force)
    return _status(record)


@router.get("/jobs", response_model=JobList, summary="List your jobs, newest first")
async def list_all(request: Request, user: str = Depends(current_user), limit: int = Query(100, ge=1, le=1000)) -> JobList:
    ctx = context(request)
    active = {r.job_id: _status(r) for r in ctx.runner.records(user) if not r.answered_by}  # the job that answered is listed
    done = await asyncio.to_thread(ctx.finished, user, limit)
    merged = {**{s.job_id: s for s in done}, **active}  # a running retry shadows nothing; a record wins while it exists
    ordered = sorted(merged.values(), key=lambda s: s.job_id, reverse=True)[:limit]
    return JobList(user=user, jobs=[await _with_links(ctx, user, s) for s in ordered])


@router.get("/jobs/{job_id}", response_model=JobStatus, summary="Job status and, when done, its result",
            responses={404: {"description": "no such job for you"}})
async def status(job_id: str, request: Request, user: str = Depends(current_user)) -> JobStatus:
    ctx = context(request)
    return await _with_links(ctx, user, await _find(ctx, user, job_id_of(job_id)))


@router.get("/jobs/{job_id}/view", response_class=HTMLResponse, summary="The result page of a finished job (an editor)",
            description="The edited revision when there is one. The page runs sandboxed in the app's frame and saves "
                        "by asking the app around it to PUT /api/jobs/{job_id}/edited.")
async def view(job_id: str, request: Request, user: str = Depends(current_user)) -> HTMLResponse:
    from drumscribe.service.result import render_result

    ctx = context(request)
    job_id = _results_of(ctx, user, job_id_of(job_id))
    try:
        found = await asyncio.to_thread(ctx.transcription, user, job_id)
    except NotFoundError:
        raise HTTPException(404, f"no finished job {job_id}") from None
    expires = datetime.now(timezone.utc) + timedelta(seconds=LINK_SECONDS)
    midi, json_key = await asyncio.to_thread(_result_keys, ctx, user, job_id, found)
    names = _download_names(found.model.source.name, job_id)
    links = {"MIDI": await ctx.service.browser_url(midi, LINK_SECONDS, names["midi"]),
             "JSON": await ctx.service.browser_url(json_key, LINK_SECONDS, names["json"])}
    audio = await _original_url(ctx, user, found.model.source.key)
    return HTMLResponse(render_result(found.transcription, links, audio_url=audio, links_expire=expires,
                                      editor={"mode": "parent", "revision": found.current, "based_on": found.model_sha},
                                      revision_note=_page_note(found),
                                      download_names={"MIDI": names["midi"], "JSON": names["json"]}))


@router.get("/jobs/{job_id}/edited", summary="The job's edited revision (edited.json)",
            responses={200: {"description": "the edited transcription (its ETag is its revision)", "content": {"application/json": {}}},
                       404: {"description": "no such job, or never edited (then the ETag header is the model's revision)"}})
async def get_edited(job_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    ctx = context(request)
    job_id = job_id_of(job_id)
    try:
        found = await asyncio.to_thread(ctx.transcription, user, job_id)
    except NotFoundError:
        raise HTTPException(404, f"no finished job {job_id}") from None
    if found.edited is None:
        raise HTTPException(404, f"job {job_id} has no edited revision", headers={"ETag": f'"{found.current}"'})
    data = await asyncio.to_thread(ctx.storage.get, keys.edited_key(user, job_id))
    return Response(data, media_type="application/json", headers={"ETag": f'"{found.current}"', "Cache-Control": "no-store"})


@router.put("/jobs/{job_id}/edited", response_model=EditResult, summary="Save the job's corrected hits as its edited revision",
            description="If-Match names the revision the edit started from: the job's current revision "
                        "(JobStatus.result.revision, or the ETag of GET .../edited). Anything else is stale: 409, nothing "
                        "is written. The model's transcription.json is never changed.",
            responses={409: {"description": "stale: the job was saved since that revision (the ETag header is the latest)"},
                       428: {"description": "no If-Match header"}, 404: {"description": "no such job for you"},
                       400: {"description": "an event that is not a drum hit of the recording"}})
async def put_edited(job_id: str, body: EditRequest, request: Request, response: Response, user: str = Depends(current_user),
                     if_match: Optional[str] = Header(None, description='the revision the edit started from, e.g. "5f0c..."')) -> EditResult:
    from drumscribe.errors import StaleRevision
    from drumscribe.jobs.edit_server import parse_if_match
    from drumscribe.jobs.edits import save_edited

    ctx = context(request)
    job_id = job_id_of(job_id)
    parent = parse_if_match(if_match)
    if parent is None:
        raise HTTPException(428, "a save must name the revision it started from (If-Match)")
    events = [e.model_dump() for e in body.events]
    try:
        edited = await asyncio.to_thread(save_edited, job_id, events, parent_revision=parent, via="editor",
                                         settings=ctx.settings, storage=ctx.storage, user=user)
    except StaleRevision as exc:
        latest = await asyncio.to_thread(ctx.transcription, user, job_id)
        raise HTTPException(409, str(exc), headers={"ETag": f'"{latest.current}"'}) from None
    except NotFoundError:
        raise HTTPException(404, f"no finished job {job_id}") from None
    finally:
        ctx.forget_summary(user, job_id)
    response.headers["ETag"] = f'"{edited.revision}"'
    return EditResult(revision=edited.revision, based_on=edited.based_on, parent=edited.parent, at=edited.at,
                      summary=dict(edited.summary), note=edited.describe())


@router.post("/jobs/{job_id}/retry", response_model=JobStatus, status_code=202, summary="Run a failed or interrupted job again")
async def retry(job_id: str, request: Request, user: str = Depends(current_user)) -> JobStatus:
    ctx = context(request)
    job_id = job_id_of(job_id)
    if ctx.runner.get(user, job_id) is None:
        await _find(ctx, user, job_id)  # 404 for a job that is not yours
    try:
        return _status(await asyncio.to_thread(ctx.runner.retry, user, job_id))
    except jobs.Conflict as exc:
        raise HTTPException(409, str(exc)) from None


@router.delete("/jobs/{job_id}", status_code=204, summary="Delete a job: its results, its record and its upload")
async def delete(job_id: str, request: Request, user: str = Depends(current_user)) -> Response:
    ctx = context(request)
    job_id = job_id_of(job_id)
    try:
        found = await asyncio.to_thread(ctx.delete_job, user, job_id)
    except jobs.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    if not found:
        raise HTTPException(404, f"no job {job_id}")
    return Response(status_code=204)


@router.get(LOCAL_FILES_PATH.removeprefix("/api"), summary="Download through a signed link (local mirror only)",
            description="No token needed: the signature is the permission, as with an S3 presigned URL.")
async def files(request: Request, key: str, expires: int, sig: str, name: str = "") -> StreamingResponse:
    from drumscribe.downloads import content_disposition

    ctx = context(request)
    if ctx.service.backend != "local":
        raise HTTPException(404, "files are served by S3 presigned links")
    try:
        keys.validate_key(key)
        ctx.service.check_link(key, expires, sig, name)
        info = await ctx.service.head(key)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except DrumscribeError as exc:
        raise HTTPException(403, str(exc)) from None
    stream = ctx.service.storage.open(key)
    return StreamingResponse(stream, media_type=info.content_type or "application/octet-stream",
                             headers={"Content-Disposition": content_disposition(name or key.rsplit("/", 1)[-1])})


def error_status(exc: DrumscribeError) -> int:
    """The HTTP status of a drumscribe error that no route turned into one itself."""
    from drumscribe.errors import AccessDeniedError, StorageError

    for kind, status in ((NotFoundError, 404), (jobs.Conflict, 409), (jobs.Busy, 503), (AccessDeniedError, 502), (InvalidKeyError, 400),
                         (InputError, 400), (StorageError, 502)):
        if isinstance(exc, kind):
            return status
    return 500


# --- helpers -------------------------------------------------------------------------------


def _too_big_to_send(filename: str, size: int, bound: int, settings: Settings) -> str:
    from drumscribe.service.stored import flac_candidate

    over = f"{filename} is {size / 1048576:.1f} MB, over the {settings.max_upload_mb:g} MB upload limit"
    if flac_candidate(filename):
        return f"{over} even before it is stored as a lossless FLAC (at most {bound / 1048576:g} MB may be sent)"
    return over


def _status(record: jobs.JobRecord) -> JobStatus:
    return JobStatus(job_id=record.job_id, state=record.state, filename=record.filename, error=record.error,
                     created_at=record.created_at, started_at=record.started_at, finished_at=record.finished_at,
                     retryable=record.state in jobs.RETRYABLE)


def _results_of(ctx: Context, user: str, job_id: str) -> str:
    """The job whose results answer ``job_id``: itself, or the earlier job that answered it."""
    record = ctx.runner.get(user, job_id)
    return record.answered_by if record is not None and record.answered_by else job_id


async def _find(ctx: Context, user: str, job_id: str) -> JobStatus:
    record = ctx.runner.get(user, job_id)
    if record is not None and record.state != jobs.DONE:
        return _status(record)
    answered_by = record.answered_by if record is not None else None
    summary = await asyncio.to_thread(ctx.summary, user, answered_by or job_id)
    if summary is None:
        raise HTTPException(404, f"no job {job_id}")
    if answered_by:  # this job's id, the earlier job's results
        summary.job_id, summary.answered_by, summary.filename = job_id, answered_by, record.filename
    return summary


async def _original_url(ctx: Context, user: str, key: str | None) -> str | None:
    """A browser link to a job's original upload: only one of the caller's own, and only while it is stored."""
    try:
        key = jobs.check_upload_key(user, key or "")
    except DrumscribeError:
        return None  # no key, or one outside uploads/{user}/: the page plays the synthesized drums alone
    if not await ctx.service.file_exists(key):
        return None
    return await ctx.service.browser_url(key, LINK_SECONDS)


def _result_keys(ctx: Context, user: str, job_id: str, found: Any = None) -> tuple[str, str]:
    """(MIDI key, JSON key) of the revision a job's links give: the edited one when there is one."""
    from drumscribe.jobs.edits import edited_midi

    if found is None:
        found = ctx.transcription(user, job_id)
    if found.edited is not None:
        try:
            return edited_midi(ctx.storage, user, job_id, found.edited), keys.edited_key(user, job_id)
        except DrumscribeError:  # edited.mid could not be written: the JSON is still the edited one
            return keys.midi_key(user, job_id), keys.edited_key(user, job_id)
    return keys.midi_key(user, job_id), keys.transcription_key(user, job_id)


def _page_note(found: Any) -> str | None:
    from drumscribe.jobs.page import page_note

    return page_note(found)
def _download_names(song: str | None, job_id: str) -> dict[str, str]:
    """What the MIDI and JSON downloads are saved as: after the song (``downloads.download_name``)."""
    from drumscribe.downloads import download_name

    return {"midi": download_name(song, ".mid", job_id), "json": download_name(song, ".json", job_id)}


async def _with_links(ctx: Context, user: str, status: JobStatus) -> JobStatus:
    if status.state == jobs.DONE and status.result is not None:
        results = status.answered_by or status.job_id  # an answered job links to the job that answered it
        midi, json_key = keys.midi_key(user, results), keys.transcription_key(user, results)
        if status.result.get("edited"):
            midi, json_key = await asyncio.to_thread(_result_keys, ctx, user, results)
        names = _download_names(status.filename, status.job_id)
        status.result = {**status.result,
                         "midi_url": await ctx.service.browser_url(midi, filename=names["midi"]),
                         "json_url": await ctx.service.browser_url(json_key, filename=names["json"]),
                         "midi_name": names["midi"], "json_name": names["json"],
                         "view_url": f"/api/jobs/{results}/view"}
    return status
