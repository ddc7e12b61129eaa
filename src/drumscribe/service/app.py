"""The web app: the page (static HTML/JS, no CDN), the JSON API, and ``serve()`` to run it on uvicorn.

Why FastAPI on uvicorn: the OpenAPI document comes from the same type hints that validate each
request, ``TestClient`` tests the API without a socket, and both are widely used and maintained.
They are the ``serve`` extra, so the CLI and library do not need them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from importlib import resources
from typing import Any, Callable, Mapping

from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, DrumscribeError
from drumscribe.service.auth import LOOPBACK_NAMES, Auth, check_bind, env_token, is_loopback
from drumscribe.service.context import Context
from drumscribe.service.runner import JobRunner
from drumscribe.service.s3service import S3Service
from drumscribe.storage.base import Storage

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _require_fastapi() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
        import python_multipart  # noqa: F401  (FastAPI's form parser)
    except ImportError:
        raise ConfigError("drumscribe serve needs the web stack", hint="pip install 'drumscribe[serve]'") from None


def create_app(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    tokens: Mapping[str, str] | None = None,
    workers: int = 1,
    model: Any = None,
    transcribe: Any = None,
    allowed_hosts: list[str] | None = None,
    max_waiting: int = 100,
    cluster: Any = None,
) -> Any:
    """The ASGI app. ``tokens`` maps API token -> user id (default: ``DRUMSCRIBE_API_TOKEN`` for the
    configured user; none: no token needed). ``allowed_hosts`` limits the Host header (``serve``
    sets the loopback names when there is no token: a DNS-rebinding page cannot then reach the
    API). More than ``max_waiting`` jobs queued or running are refused (503). Unfinished jobs a
    previous server left are marked ``interrupted`` here. ``cluster`` (a Dask scheduler address,
    ``"local"``, a ``distributed.Client`` or a cluster object): each job runs as one task there,
    ``workers`` of them at once (``service.cluster``); it needs S3 unless the cluster is local."""
    _require_fastapi()
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from drumscribe import __version__
    from drumscribe.service.api import error_status, router

    settings = settings or load_settings()
    if tokens is None:
        token = env_token()
        tokens = {token: settings.user} if token else {}
    auth = Auth(default_user=settings.user, tokens=dict(tokens))
    service = S3Service(storage)
    on_cluster = None
    if cluster is not None:
        from drumscribe.service.cluster import ClusterJobs

        transcribe = on_cluster = ClusterJobs(cluster, service.storage, settings, workers=workers, model=model)
    runner = JobRunner(service.storage, settings, workers=workers, model=model, transcribe=transcribe, max_waiting=max_waiting)
    runner.recover()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        runner.shutdown(wait=False)
        if on_cluster is not None:
            on_cluster.close()

    app = FastAPI(title="drumscribe", version=__version__, lifespan=lifespan,
                  description="Upload drum recordings straight to S3, transcribe them in the background, "
                              "download MIDI and JSON. Every /api call needs `Authorization: Bearer <token>` "
                              "when the server has an API token.")
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.state.drumscribe = Context(settings=settings, auth=auth, service=service, runner=runner, workers=workers,
                                     cluster=on_cluster.address if on_cluster else None)
    app.include_router(router)
    from drumscribe.service.tuning import TuneRunner, router as tune_router

    app.state.drumscribe_tune = TuneRunner(service.storage, settings)  # POST/GET /api/tune (issue 23)
    app.include_router(tune_router)

    @app.exception_handler(DrumscribeError)
    async def one_line(request, exc: DrumscribeError):  # the API's errors are one line too, never a traceback
        return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))

    static = resources.files("drumscribe.service").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    page = static.joinpath("index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def index(job_id: str | None = None) -> HTMLResponse:
        # the page holds no user data; it asks the API (with the token) for everything
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return app


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, insecure: bool = False, workers: int = 1,
          settings: Settings | None = None, prefer_local: bool = False, log_level: str = "info",
          announce: Callable[[str], None] = print, cluster: Any = None) -> None:
    """Run the service until interrupted (``drumscribe serve``); ``cluster``: see ``create_app``."""
    _require_fastapi()
    import uvicorn

    from drumscribe.storage import get_storage

    settings = settings or load_settings()
    token = env_token()
    check_bind(host, Auth(settings.user, {token: settings.user} if token else {}), insecure)
    storage = get_storage(settings, prefer_local=prefer_local)
    # without a token, loopback is the only protection: refuse other Host names (DNS rebinding)
    hosts = None if token or not is_loopback(host) else list(LOOPBACK_NAMES)
    app = create_app(settings, storage=storage, workers=workers, allowed_hosts=hosts, cluster=cluster)
    origin = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    announce(f"drumscribe: storage {storage.uri()}, user {settings.user}, "
             + ("API token required" if token else "no API token (this machine only)"))
    if cluster is not None:
        announce(f"jobs run on the Dask cluster {app.state.drumscribe.cluster}, {workers} at a time")
    if storage.name == "s3":
        _announce_cors(settings, origin, announce)
    logging.getLogger("uvicorn.access").addFilter(_RedactSignatures())
    uvicorn.run(app, host=host, port=port, log_level=log_level)


class _RedactSignatures(logging.Filter):
    """Access-log lines carry request paths; a signed download link in one is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SIG.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


_SIG = re.compile(r"((?:sig|signature|X-Amz-Signature|Signature)=)[^&\s]+")


def _announce_cors(settings: Settings, origin: str, announce: Callable[[str], None]) -> None:
    """Browsers upload straight to the bucket: say so now if its CORS rules would refuse the page."""
    from drumscribe.doctor import cors_preflight

    try:
        announce(f"CORS: {cors_preflight(settings, origin)}")
    except Exception as exc:  # a warning, not a reason to refuse to start
        hint = getattr(exc, "hint", "")
        announce(f"warning: {exc}" + (f"; fix: {hint}" if hint else ""))
