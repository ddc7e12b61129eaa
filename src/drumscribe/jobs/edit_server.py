"""``drumscribe edit JOB``: the job's page with a server to save to, on this machine only.

A small HTTP server from the standard library (no web extra needed) on 127.0.0.1 and a port the
system picks. It serves one job: its page (``views/html.py`` in ``server`` mode), the original
audio, the MIDI and JSON of the revision it shows, and ``PUT /api/edited`` (``jobs.edits.save_edited``).

Who may use it: the URL printed (and opened) carries a one-time token. The first request with it
gets a session cookie (HttpOnly, SameSite=Strict) and is sent on to ``/`` so the token leaves the
address bar and history; the token then stops working. Every API call also needs the page's own
session header (a page from another site can neither read it nor send it without a preflight
this server never grants), and a Host header naming the loopback address (DNS rebinding).

When it stops: Ctrl-C, or the page is gone. Each loaded page (a reload is a new one) names itself
in a heartbeat every 5 s and in a beacon when it goes; once no page is left the server waits a
few seconds (a reload's new page says hello) and stops. A page silent for ``idle_timeout`` seconds
counts as gone too (a browser killed, a machine asleep; browsers slow timers in background tabs
down to one a minute, so this is minutes).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from drumscribe.config import Settings, load_settings
from drumscribe.errors import DrumscribeError, InputError, NotFoundError, StaleRevision

LOOPBACK = "127.0.0.1"
COOKIE = "drumscribe_edit"
MAX_BODY = 16 * 1024 * 1024  # a drum part as JSON is a few hundred KB
HEARTBEAT_TIMEOUT = 180.0  # s without a heartbeat from an opened page: it is gone
CLOSE_GRACE = 4.0  # s after the page's goodbye for a reload to say hello again
AUDIO_LINK_SECONDS = 12 * 3600  # S3: how long the page's link to the original works


@dataclass
class EditSession:
    """What happened while the editor was open."""

    url: str
    saves: list = field(default_factory=list)  # the ``edits.Edited`` of each save, in order
    reason: str = ""  # why it stopped: "closed", "idle", "interrupted", "stopped"

    @property
    def last(self):
        return self.saves[-1] if self.saves else None


def parse_if_match(header: str | None) -> str | None:
    """The revision an ``If-Match`` header names (``"abc"``, ``W/"abc"`` or ``abc``); None without one."""
    if header is None or not header.strip():
        return None
    value = header.strip().split(",")[0].strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


class EditServer:
    """One job's editor on ``127.0.0.1``. ``start()``, hand ``url`` to a browser, ``wait()``; or ``stop()``."""

    def __init__(self, job_id: str, *, settings: Settings | None = None, storage: Any = None, user: str | None = None,
                 revision: str = "latest", prefer_local: bool = False, port: int = 0,
                 idle_timeout: float = HEARTBEAT_TIMEOUT, close_grace: float = CLOSE_GRACE):
        from drumscribe.jobs.edits import find_revision

        self.settings = settings or load_settings()
        self.job_id = job_id
        self.revision = revision
        self.prefer_local = prefer_local
        found = find_revision(job_id, revision, settings=self.settings, storage=storage, user=user, prefer_local=prefer_local)
        self.storage = found.storage  # the job's own (the active storage, or the offline mirror)
        self.user = user or found.model.user_id or self.settings.user
        self.idle_timeout, self.close_grace = idle_timeout, close_grace
        self._token = secrets.token_urlsafe(24)  # in the URL, good for one visit
        self._cookie = secrets.token_urlsafe(32)
        self._header = secrets.token_urlsafe(24)  # the page's, for its API calls
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._pages: dict[str, float] = {}  # page id -> its last heartbeat (time.monotonic)
        self._gone: set[str] = set()  # pages that said goodbye: a late heartbeat of theirs is ignored
        self._empty_since: float | None = None  # when the last page went
        self._thread: threading.Thread | None = None
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.session = EditSession(url=f"http://{LOOPBACK}:{self.port}/?token={self._token}")

    @property
    def url(self) -> str:
        return self.session.url

    # --- lifetime ----------------------------------------------------------------------------

    def start(self) -> "EditServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="drumscribe-edit", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch, name="drumscribe-edit-watch", daemon=True).start()
        return self

    def _watch(self) -> None:
        while not self._stopped.wait(0.25):
            now = time.monotonic()
            with self._lock:
                silent = [page for page, beat in self._pages.items() if now - beat > self.idle_timeout]
                for page in silent:
                    del self._pages[page]
                if silent and not self._pages:
                    reason = "idle"
                    self._empty_since = self._empty_since or now - self.close_grace - 1
                else:
                    reason = "closed"
                due = not self._pages and self._empty_since is not None and now - self._empty_since > self.close_grace
            if due:
                self.stop(reason)

    def stop(self, reason: str = "stopped") -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self.session.reason = reason
            self._stopped.set()
        threading.Thread(target=self._shutdown, daemon=True).start()  # shutdown() may not run on a request's thread

    def _shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the editor stops (True) or ``timeout`` seconds pass (False)."""
        return self._stopped.wait(timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def __enter__(self) -> "EditServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- what the routes do ------------------------------------------------------------------

    def _found(self):
        from drumscribe.jobs.edits import find_revision

        return find_revision(self.job_id, self.revision if not self.session.saves else "latest",
                             storage=self.storage, settings=self.settings, user=self.user)

    def page(self) -> str:
        from drumscribe.jobs.page import job_page

        found = self._found()
        editor = {"mode": "server", "url": "/api/edited", "session": self._header, "heartbeat": "/api/heartbeat",
                  "closed": f"/api/closed?session={self._header}"}
        audio = None
        if found.model.source.key and self.storage.exists(found.model.source.key):
            audio = "/audio" if self.storage.name == "local" else self.storage.presign(found.model.source.key, expires=AUDIO_LINK_SECONDS)
        # audio_url "" (not None): no original to play, rather than a link to the mirror's file
        return job_page(self.job_id, self.settings, self.storage, self.user, found=found, editor=editor,
                        links={"MIDI": "/files/midi", "JSON": "/files/json"}, audio_url=audio or "")

    def file(self, kind: str) -> tuple[bytes, str, str]:
        found = self._found()
        name = "edited" if found.which == "edited" else "transcription"
        if kind == "midi":
            return found.transcription.to_midi(), "audio/midi", f"{self.job_id}-{name}.mid"
        if found.which == "edited":
            from drumscribe.keys import edited_key

            return self.storage.get(edited_key(self.user, self.job_id)), "application/json", f"{self.job_id}-edited.json"
        return found.transcription.to_json().encode("utf-8"), "application/json", f"{self.job_id}-transcription.json"

    def audio_path(self) -> Path | None:
        key = self._found().model.source.key
        root = getattr(self.storage, "root", None)
        if not key or root is None:
            return None
        path = self.storage._path(key)  # the local backend's own check: never outside its root
        return path if path.is_file() else None

    def save(self, body: bytes, if_match: str | None) -> tuple[int, dict[str, Any]]:
        from drumscribe.jobs.edits import save_edited

        parent = parse_if_match(if_match)
        if parent is None:
            return 428, {"detail": "a save must name the revision it started from (If-Match)"}
        try:
            doc = json.loads(body)
            events = doc.get("events") if isinstance(doc, dict) else None
            if not isinstance(events, list):
                raise InputError("the body must be a JSON object with an \"events\" list")
        except ValueError:
            return 400, {"detail": "the body is not JSON"}
        except InputError as exc:
            return 400, {"detail": str(exc)}
        try:
            edited = save_edited(self.job_id, events, parent_revision=parent, via="editor", storage=self.storage,
                                 settings=self.settings, user=self.user)
        except StaleRevision as exc:
            return 409, {"detail": str(exc)}
        except InputError as exc:
            return 400, {"detail": str(exc)}
        except NotFoundError as exc:
            return 404, {"detail": str(exc)}
        except DrumscribeError as exc:
            return 502, {"detail": str(exc)}
        self.session.saves.append(edited)
        return 200, {"revision": edited.revision, "summary": dict(edited.summary), "at": edited.at,
                     "based_on": edited.based_on, "parent": edited.parent, "note": edited.describe()}

    def heartbeat(self, page: str) -> None:
        with self._lock:
            if page and page not in self._gone:
                self._pages[page] = time.monotonic()
                self._empty_since = None

    def closed(self, page: str) -> None:
        with self._lock:
            self._gone.add(page)
            self._pages.pop(page, None)
            if not self._pages:
                self._empty_since = time.monotonic()


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _handler(server: EditServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "drumscribe-edit"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the terminal is the user's
            pass

        # --- helpers -----------------------------------------------------------------------

        def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, doc: dict[str, Any]) -> None:
            self._send(status, json.dumps(doc).encode("utf-8"), "application/json")

        def _host_ok(self) -> bool:
            host = (self.headers.get("Host") or "").lower()
            return host in (f"{LOOPBACK}:{server.port}", f"localhost:{server.port}")

        def _has_cookie(self) -> bool:
            jar = SimpleCookie()
            try:
                jar.load(self.headers.get("Cookie") or "")
            except Exception:
                return False
            morsel = jar.get(COOKIE)
            return morsel is not None and secrets.compare_digest(morsel.value, server._cookie)

        def _api_ok(self, query: dict[str, list[str]]) -> bool:
            given = self.headers.get("X-Drumscribe-Session") or (query.get("session") or [""])[0]
            return self._has_cookie() and secrets.compare_digest(given, server._header)

        def _guard(self) -> tuple[str, dict[str, list[str]]] | None:
            if not self._host_ok():
                self._send(403, b"this editor answers on 127.0.0.1 only")
                return None
            parts = urlsplit(self.path)
            return parts.path, parse_qs(parts.query)

        def _body(self) -> bytes | None:
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                self._json(411, {"detail": "Content-Length required"})
                return None
            if int(length) > MAX_BODY:
                self._json(413, {"detail": f"over {MAX_BODY // 1048576} MB"})
                self.close_connection = True
                return None
            return self.rfile.read(int(length))

        # --- routes ------------------------------------------------------------------------

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            routed = self._guard()
            if routed is None:
                return
            path, query = routed
            if path == "/" and "token" in query:
                with server._lock:
                    good = bool(server._token) and secrets.compare_digest(query["token"][0], server._token)
                    if good:
                        server._token = ""  # one visit: the link is spent
                if not good:
                    self._send(403, b"this editor link has been used already (or is wrong): run `drumscribe edit JOB` again")
                    return
                self._send(303, b"", headers={"Location": "/", "Set-Cookie": f"{COOKIE}={server._cookie}; HttpOnly; SameSite=Strict; Path=/"})
                return
            if not self._has_cookie():
                self._send(403, b"open the link `drumscribe edit` printed")
                return
            try:
                if path == "/":
                    self._send(200, server.page().encode("utf-8"), "text/html; charset=utf-8")
                elif path in ("/files/midi", "/files/json"):
                    data, kind, name = server.file(path.rsplit("/", 1)[1])
                    self._send(200, data, kind, {"Content-Disposition": f'attachment; filename="{name}"'})
                elif path == "/audio":
                    self._audio()
                else:
                    self._send(404, b"not found")
            except DrumscribeError as exc:
                self._send(404 if isinstance(exc, NotFoundError) else 502, str(exc).encode("utf-8"))

        def _audio(self) -> None:
            path = server.audio_path()
            if path is None:
                self._send(404, b"the original is not stored")
                return
            from drumscribe.storage._common import guess_content_type

            size = path.stat().st_size
            start, end, status = 0, size - 1, 200
            match = _RANGE.match(self.headers.get("Range", "").strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                else:  # the last N bytes
                    start = max(0, size - int(match.group(2)))
                if start > end or start >= size:
                    self._send(416, b"", headers={"Content-Range": f"bytes */{size}"})
                    return
                status = 206
            with path.open("rb") as fh:
                fh.seek(start)
                data = fh.read(end - start + 1)
            headers = {"Accept-Ranges": "bytes"}
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self._send(status, data, guess_content_type(path.name) or "application/octet-stream", headers)

        def do_PUT(self) -> None:  # noqa: N802
            routed = self._guard()
            if routed is None:
                return
            path, query = routed
            if path != "/api/edited":
                self._json(404, {"detail": "not found"})
                return
            if not self._api_ok(query):
                self._json(403, {"detail": "not this page's session"})
                return
            body = self._body()
            if body is None:
                return
            status, doc = server.save(body, self.headers.get("If-Match"))
            self._json(status, doc)

        def do_POST(self) -> None:  # noqa: N802
            routed = self._guard()
            if routed is None:
                return
            path, query = routed
            if path not in ("/api/heartbeat", "/api/closed"):
                self._json(404, {"detail": "not found"})
                return
            if not self._api_ok(query):
                self._json(403, {"detail": "not this page's session"})
                return
            self._body()  # drain (a beacon may send a body)
            page = (query.get("page") or [""])[0][:64]
            server.heartbeat(page) if path == "/api/heartbeat" else server.closed(page)
            self._send(204)

    return Handler


def edit_job(job_id: str, settings: Settings | None = None, storage: Any = None, user: str | None = None, *,
             revision: str = "latest", open_browser: bool = True, prefer_local: bool = False,
             announce: Callable[[str], None] = print, port: int = 0) -> EditSession:
    """Open job ``job_id`` in the editor and block until its page is closed or Ctrl-C; what was saved.

    ``open_browser=False`` only announces the URL (one visit: it is spent once opened)."""
    editor = EditServer(job_id, settings=settings, storage=storage, user=user, revision=revision,
                        prefer_local=prefer_local, port=port).start()
    announce(f"Editing job {job_id} at {editor.url}")
    if open_browser and not _open_url(editor.url):
        announce("No browser could be opened here: open the link above in one (it works once).")
    announce("The editor stops when its page is closed, or on Ctrl-C.")
    try:
        while not editor.wait(0.5):
            pass
    except KeyboardInterrupt:
        editor.stop("interrupted")
    return editor.session


def _open_url(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url))
    except webbrowser.Error:
        return False
