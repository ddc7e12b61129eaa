"""A finished job as an HTML page: the one place that turns a transcription into the result view.

Today: a summary, the drum tab (``render_tab``) and download links. When the HTML view
(``drumscribe.render_html``) lands, point ``render_result`` at it; nothing else changes. The page
is shown inside a sandboxed ``<iframe srcdoc>``, so it may be a whole document with its own style.
"""

from __future__ import annotations

import html
from typing import Mapping

from drumscribe.errors import DrumscribeError
from drumscribe.transcription.result import Transcription


def render_result(transcription: Transcription, links: Mapping[str, str]) -> str:
    """A whole HTML document for one job; ``links`` maps a label ("MIDI", "JSON") to a URL."""
    from drumscribe.views.tab import render_tab

    t = transcription
    try:
        tab = render_tab(t)
    except DrumscribeError as exc:  # e.g. no hits at all: the page still shows the summary
        tab = str(exc)
    counts = "".join(f"<tr><td>{html.escape(name)}</td><td>{n}</td></tr>" for name, n in sorted(t.counts().items()))
    anchors = " ".join(f'<a href="{html.escape(url)}" target="_blank" rel="noopener" download>{html.escape(label)}</a>'
                       for label, url in links.items())
    name = t.source.name or t.job_id or "transcription"
    tempo = f"{t.tempo:.1f} BPM" if t.tempo else "unknown"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1rem; color: #222; }}
table {{ border-collapse: collapse; }} td {{ padding: .1rem .8rem .1rem 0; }}
pre {{ background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: 13px; }}
a {{ margin-right: 1rem; }}
</style></head><body>
<h2>{html.escape(name)}</h2>
<p>{t.duration:.1f} s, tempo {tempo}, {len(t.events)} hits &middot; {anchors}</p>
<table>{counts}</table>
<pre>{html.escape(tab)}</pre>
</body></html>
"""
