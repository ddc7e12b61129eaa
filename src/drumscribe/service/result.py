"""A finished job as an HTML page: the one place that turns a transcription into the result view.

The page is the HTML view (``drumscribe.render_html``: the drum grid, playback of the original
with synthesized drums, the summary) with the text drum tab under it. It is shown inside an
``<iframe srcdoc sandbox="allow-scripts ...">`` without ``allow-same-origin``: its script runs in
an opaque origin, so it cannot read the app's token, storage or API, and its own
Content-Security-Policy still limits it to its hashed script and style and the audio it is given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from drumscribe.errors import DrumscribeError
from drumscribe.transcription.result import Transcription


def render_result(transcription: Transcription, links: Mapping[str, str], *, audio_url: str | None = None,
                  links_expire: datetime | None = None, editor: Mapping[str, Any] | None = None,
                  revision_note: str | None = None, download_names: Mapping[str, str] | None = None) -> str:
    """A whole HTML document for one job.

    ``links`` maps a label ("MIDI", "JSON") to a URL, ``audio_url`` is where the browser finds the
    original (None: the synthesized drums play alone), ``links_expire`` when those links stop working,
    ``download_names`` what each link's file is saved as.
    ``editor``/``revision_note``: as ``render_html`` takes them (serve's page saves through its parent).
    """
    from drumscribe.views.html import render_html
    from drumscribe.views.tab import render_tab

    try:
        tab = render_tab(transcription)
    except DrumscribeError as exc:  # e.g. no hits at all: the page still shows the grid and summary
        tab = str(exc)
    return render_html(transcription, audio_url=audio_url, links=links, links_expire=links_expire, tab=tab,
                       editor=editor, revision_note=revision_note, download_names=download_names)
