"""``drumscribe serve``: the transcription service the S3 setup guide was written for.

* ``app``: the FastAPI app (``create_app``) and ``serve``;
* ``api``: the JSON API; ``result``: a finished job as HTML;
* ``s3service``: the guide's ``S3Service`` (AsyncStorage + presigned POSTs and browser links);
* ``policy``: the POST policy that bounds browser uploads; ``auth``: tokens and bind rules;
* ``runner``: background jobs and their state records; ``context``: one running service;
* ``static/``: the page (HTML, JS, CSS; no CDN).

FastAPI and uvicorn are the optional ``serve`` extra; nothing here is imported by ``import drumscribe``.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve"):
        from drumscribe.service import app

        return getattr(app, name)
    if name == "S3Service":
        from drumscribe.service.s3service import S3Service

        return S3Service
    raise AttributeError(f"module 'drumscribe.service' has no attribute {name!r}")
