"""Views: a ``Transcription`` turned into something people read, look at or hear.

Each view is a function from a ``Transcription`` (plus keyword options) to text or bytes; the CLI
(``drumscribe show JOB --format NAME``) only looks the name up in :data:`VIEWS`, calls it and prints
or saves the result. Targets are ``"module:function"`` strings, imported on first use, so that
listing the formats (``--help``, the error for an unknown one) never imports matplotlib.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

from drumscribe.errors import InputError

# format name -> "module:function"; the function takes a Transcription and returns str or bytes
VIEWS: dict[str, str] = {
    "tab": "drumscribe.views.tab:render_summary_and_tab",  # the default: what `show` prints
    "json": "drumscribe.views.data:render_json",
    "midi": "drumscribe.views.data:render_midi",
    "musicxml": "drumscribe.views.musicxml:render_musicxml",
    "html": "drumscribe.views.html:render_html",
    "png": "drumscribe.views.image:render_png",
    "svg": "drumscribe.views.image:render_svg",
}


def view(name: str) -> Callable[..., str | bytes]:
    """The function behind format ``name``; one-line ``InputError`` listing the valid ones otherwise."""
    target = VIEWS.get(name)
    if target is None:
        raise InputError(f"unknown format {name!r}; valid formats: {', '.join(VIEWS)}")
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def render(transcription: Any, name: str, **options: Any) -> str | bytes:
    """``transcription`` in format ``name`` (a key of :data:`VIEWS`).

    Options the view does not take, or left at None, are dropped: the CLI passes what it was given
    (``bars``, ``job_id``...) and each view uses what applies to it.
    """
    function = view(name)
    accepted = inspect.signature(function).parameters
    return function(transcription, **{k: v for k, v in options.items() if v is not None and k in accepted})
