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

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.datastructures import UploadFile as StarletteUpload
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from drumscribe import keys
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
    result: Optional[dict[str, Any]] = Field(None, description="when done: duration, tempo, counts, midi_url, json_url, view_url")


class JobList(BaseModel):
    user: str
    jobs: list[JobStatus]


class ServiceInfo(BaseModel):
    user: str
    backend: str
    bucket: Optional[str]
    max_bytes: int
    auth_required: bool
    workers: int


# --- routes --------------------------------------------------------------------------------


@router.get("/info", response_model=ServiceInfo, summary="Who you are and how uploads work")
def info(request: Request, user: str = Depends(current_user)) -> ServiceInfo:
    ctx = context(request)
    return ServiceInfo(user=user, backend=ctx.service.backend, bucket=ctx.service.storage.bucket,
                       max_bytes=ctx.settings.max_upload_bytes, auth_required=ctx.auth.required, workers=ctx.workers)


@router.post("/uploads", response_model=UploadTicket, status_code=201, summary="Create an upload (a presigned POST)",
             responses={413: {"description": "over the upload limit"}, 415: {"description": "not audio"}})
async def create_upload(body: UploadRequest, request: Request, user: str = Depends(current_user)) -> UploadTicket:
    ctx = context(request)
    limit = ctx.settings.max_upload_bytes
    if body.size > limit:
        raise HTTPException(413, f"{body.filename} is {body.size / 1048576:.1f} MB, over the {ctx.settings.max_upload_mb:g} MB upload limit")
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
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ctx.settings.max_upload_bytes + FORM_OVERHEAD:
        raise HTTPException(413, f"over the {ctx.settings.max_upload_mb:g} MB upload limit")  # before reading a byte
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
    if head.size > ctx.settings.max_upload_bytes:
        raise HTTPException(413, f"{key} is over the {ctx.settings.max_upload_mb:g} MB upload limit")
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


@router.get("/jobs/{job_id}/view", response_class=HTMLResponse, summary="The result page of a finished job")
async def view(job_id: str, request: Request, user: str = Depends(current_user)) -> HTMLResponse:
    from drumscribe.service.result import render_result

    ctx = context(request)
    job_id = _results_of(ctx, user, job_id_of(job_id))
    try:
        transcription = await asyncio.to_thread(ctx.transcription, user, job_id)
    except NotFoundError:
        raise HTTPException(404, f"no finished job {job_id}") from None
    expires = datetime.now(timezone.utc) + timedelta(seconds=LINK_SECONDS)
    links = {"MIDI": await ctx.service.browser_url(keys.midi_key(user, job_id), LINK_SECONDS),
             "JSON": await ctx.service.browser_url(keys.transcription_key(user, job_id), LINK_SECONDS)}
    audio = await _original_url(ctx, user, transcription.source.key)
    return HTMLResponse(render_result(transcription, links, audio_url=audio, links_expire=expires))


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
async def files(request: Request, key: str, expires: int, sig: str) -> StreamingResponse:
    ctx = context(request)
    if ctx.service.backend != "local":
        raise HTTPException(404, "files are served by S3 presigned links")
    try:
        keys.validate_key(key)
        ctx.service.check_link(key, expires, sig)
        info = await ctx.service.head(key)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except DrumscribeError as exc:
        raise HTTPException(403, str(exc)) from None
    stream = ctx.service.storage.open(key)
    name = key.rsplit("/", 1)[-1]
    return StreamingResponse(stream, media_type=info.content_type or "application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def error_status(exc: DrumscribeError) -> int:
    """The HTTP status of a drumscribe error that no route turned into one itself."""
    from drumscribe.errors import AccessDeniedError, StorageError

    for kind, status in ((NotFoundError, 404), (jobs.Conflict, 409), (jobs.Busy, 503), (AccessDeniedError, 502), (InvalidKeyError, 400),
                         (InputError, 400), (StorageError, 502)):
        if isinstance(exc, kind):
            return status
    return 500


# --- helpers -------------------------------------------------------------------------------


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


async def _with_links(ctx: Context, user: str, status: JobStatus) -> JobStatus:
    if status.state == jobs.DONE and status.result is not None:
        results = status.answered_by or status.job_id
        status.result = {**status.result,
                         "midi_url": await ctx.service.browser_url(keys.midi_key(user, results)),
                         "json_url": await ctx.service.browser_url(keys.transcription_key(user, results)),
                         "view_url": f"/api/jobs/{results}/view"}
    return status
