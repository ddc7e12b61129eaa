"""A transcription as one self-contained HTML page: the drum grid, playback of the original with a
synthesized drum track over it, and the job's summary.

The page works offline from disk: its CSS and JavaScript are inline (``assets/page.css``, and the
script parts in ``SCRIPT_PARTS``, one per concern, joined into one script; no framework), the drum sounds are synthesized with Web Audio, and its
Content-Security-Policy forbids every request except the audio it was given. The only strings
that come from the job (file names, model names, links) reach the page HTML-escaped, or inside a
JSON block whose ``<``, ``>`` and ``&`` are ``\\u``-escaped, which the script reads as data and shows
with ``textContent``: a ``<script>`` in a file name stays text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from html import escape
from importlib import resources
from typing import Any, Mapping
from urllib.parse import urlsplit

from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.views.lanes import bars, colour, display_name, lanes
from drumscribe.views.tab import ROW_ORDER
from drumscribe.views.summary import format_date, format_duration, format_tempo, model_name, source_name

SAFE_SCHEMES = {"", "http", "https", "file", "data", "blob"}  # never javascript: or the like
# the page's script, in order: data and helpers, the grid, playback, then what clicks and keys do
SCRIPT_PARTS = ("core.js", "grid.js", "playback.js", "edit.js", "save.js", "main.js")
EDIT_MODES = ("download", "server", "parent")  # see assets/save.js


def _asset(name: str) -> str:
    return resources.files("drumscribe.views").joinpath("assets", name).read_text(encoding="utf-8")


def page_script() -> str:
    """The parts joined into the one inline script the page runs (they share one function's scope)."""
    body = "\n".join(f"// ---- {name} ----\n{_asset(name)}" for name in SCRIPT_PARTS)
    return f'"use strict";\n(function () {{\n{body}\n}})();\n'


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _json_for_html(value: Any) -> str:
    """JSON that cannot end its <script> block or open a comment: <, > and & as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a link a page may hold (relative, http(s), file, data, blob); else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url if scheme in SAFE_SCHEMES else None


def audio_data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _colour_class(instrument: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() else "_" for ch in instrument)


def _colour_rules(t: Any) -> str:
    """One class per lane colour: the CSP allows no inline style attributes."""
    return "".join(f"\n.{_colour_class(n)}{{background:{colour(n)}}}" for n in lanes(t))


def _page_lanes(t: Any) -> list[str]:
    """Every drum of the kit, top to bottom as on a staff (an empty lane is where a missed hit is
    added), then any other instrument the transcription has."""
    present = lanes(t)
    kit = [name for name in ROW_ORDER if name in INSTRUMENTS or name in present]
    return kit + [name for name in present if name not in kit]


def _page_data(t: Any, audio: str | None, editor: Mapping[str, Any] | None) -> dict[str, Any]:
    names = _page_lanes(t)
    index = {name: i for i, name in enumerate(names)}
    grid = bars(t)
    counts = t.counts()
    edit = {"mode": "download", "revision": None, "based_on": None, "job_id": t.job_id, **dict(editor or {})}
    if edit["mode"] not in EDIT_MODES:
        raise InputError(f"editor mode must be one of {', '.join(EDIT_MODES)}, got {edit['mode']!r}")
    # what a downloaded edited.json carries besides the events (`edit --import` reads it)
    edit["document"] = {k: v for k, v in t.to_dict().items() if k != "events"}
    return {
        "duration": max(float(t.duration or 0.0), max((e.time for e in t.events), default=0.0) + 0.5),
        "lanes": [{"name": n, "label": display_name(n), "colour": colour(n), "hits": counts.get(n, 0),
                   "note": INSTRUMENTS[n].note if n in INSTRUMENTS else None} for n in names],
        # [time s, lane, velocity, confidence], sorted by time: what the grid draws and the synth plays
        "hits": [[round(e.time, 6), index[e.instrument], int(e.velocity), round(float(e.confidence), 4)]
                 for e in sorted(t.events, key=lambda e: e.time)],
        "bars": [{"n": b.number, "beats": [round(x, 4) for x in b.beats]} for b in grid],
        "audio": audio,
        "edit": edit,
    }


def _download_names(t: Any) -> dict[str, str]:
    from drumscribe.downloads import download_name

    return {"MIDI": download_name(t.source.name, ".mid", t.job_id or "drums"),
            "JSON": download_name(t.source.name, ".json", t.job_id or "drums")}


def _download_attribute(label: str, names: Mapping[str, str]) -> str:
    """The ``download`` attribute of a file link: the name to save it as (a same-origin or
    ``file:`` link uses it; a presigned S3 link is named by S3's Content-Disposition instead)."""
    return f'download="{escape(names[label], quote=True)}"' if names.get(label) else "download"


def _summary(t: Any, links: Mapping[str, str], links_expire: str | None, names: Mapping[str, str] | None = None) -> str:
    rows = [
        ("File", source_name(t)),
        ("Job", t.job_id or ""),
        ("Created", f"{format_date(t.created_at)} UTC" if t.created_at else ""),
        ("Length", format_duration(t.duration)),
        ("Tempo", f"{format_tempo(t.tempo)}, {len(t.beats)} beats, {len(t.downbeats)} bars detected"),
        ("Model", model_name(t)),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows if v)
    counts = t.counts()
    hits = "".join(
        f'<li><span class="swatch {_colour_class(name)}"></span>{escape(display_name(name))} '
        f"<b>{count}</b></li>" for name, count in counts.items()
    ) or "<li>no hits</li>"
    safe = {label: safe_url(url) for label, url in links.items()}
    # a new tab: following a link never replaces the page (or, served in a frame, the frame)
    anchors = " ".join(f'<a href="{escape(url, quote=True)}" {_download_attribute(label, names or {})} target="_blank" '
                       f'rel="noopener">{escape(label)}</a>' for label, url in safe.items() if url)
    expiry = f' <span class="note">(links valid until {escape(links_expire)})</span>' if anchors and links_expire else ""
    return (
        f'<table class="facts">{body}<tr><th>Hits</th><td><ul class="counts">{hits}</ul>'
        f"{sum(counts.values())} in all</td></tr>"
        + (f"<tr><th>Files</th><td>{anchors}{expiry}</td></tr>" if anchors else "")
        + "</table>"
    )


def render_html(
    transcription: Any,
    *,
    audio_url: str | None = None,
    audio: bytes | None = None,
    audio_type: str = "audio/ogg",
    links: Mapping[str, str] | None = None,
    links_expire: datetime | str | None = None,
    tab: str | None = None,
    editor: Mapping[str, Any] | None = None,
    revision_note: str | None = None,
    download_names: Mapping[str, str] | None = None,
) -> str:
    """The page of ``transcription`` as one HTML string.

    ``audio_url``: where the page finds the original (a URL relative to where the page is saved, a
    ``file://`` URL or a presigned https URL); or ``audio``: its bytes, embedded as a ``data:`` URI
    (see :func:`drumscribe.views.embed.embeddable_audio` to compress it first). ``links``: label ->
    URL of files to offer (the MIDI and JSON), ``links_expire`` when presigned ones stop working.
    ``tab``: a text drum tab (``render_tab``'s) to show under the summary, as plain text.
    ``editor``: where Save goes (``assets/save.js``): ``mode`` ``"download"`` (the default: a page on
    disk offers edited.json as a download), ``"server"`` (``drumscribe edit``: ``url``, ``session``,
    ``heartbeat``, ``closed``) or ``"parent"`` (serve's result frame), with the ``revision`` the page
    shows and ``based_on`` (the model's). ``revision_note``: a line saying which revision this is.
    ``download_names``: label -> the name each link's file is saved as (default: after the song,
    ``Song.mid`` and ``Song.json`` for the MIDI and JSON links).
    """
    t = transcription
    if audio is not None and audio_url:
        raise InputError("give the page audio_url or audio bytes, not both")
    source = audio_data_uri(audio, audio_type) if audio is not None else safe_url(audio_url)
    if isinstance(links_expire, datetime):
        links_expire = links_expire.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    css, script = _asset("page.css") + _colour_rules(t), page_script()
    # hashes, not 'unsafe-inline': only our own style and script run, whatever a job's strings hold
    server = (editor or {}).get("mode") == "server"
    csp = (
        f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(css)}; "
        "media-src data: blob: file: http: https:; img-src data:; "
        + ("connect-src 'self'; " if server else "")  # only `drumscribe edit`'s page talks to its server
        + "base-uri 'none'; form-action 'none'"
    )
    title = f"{source_name(t)} - drumscribe"
    return _TEMPLATE.format(
        csp=escape(csp, quote=False),  # no double quotes in it: the attribute stays closed
        title=escape(title),
        heading=escape(source_name(t)),
        note=(f'<p class="note" id="revision-note">{escape(revision_note)}</p>' if revision_note
              else '<p class="note" id="revision-note" hidden></p>'),
        help=escape(HELP),
        css=css,
        summary=_summary(t, links or {}, links_expire, _download_names(t) if download_names is None else download_names),
        tab=f'\n<section id="tab" aria-label="Drum tab"><pre>{escape(tab)}</pre></section>' if tab else "",
        data=_json_for_html(_page_data(t, source, editor)),
        script=script,
    )


HELP = ("Double-click a lane: add a hit (snapped to 16ths; Alt: exact) \u00b7 click: select, Shift+click: add to it, "
        "drag on empty lanes: box select, drag hits: move them \u00b7 Delete: remove \u00b7 \u2190/\u2192: nudge 10 ms "
        "(Shift: 1 ms) \u00b7 \u2191/\u2193: velocity \u00b7 K S X H O P T M F C R: make it kick, snare, side stick, "
        "hi-hat closed/open/pedal, high/mid/floor tom, crash, ride \u00b7 [ ]: previous/next hit \u00b7 N: add at the "
        "playhead \u00b7 Ctrl/Cmd+Z: undo, +Shift: redo \u00b7 Ctrl/Cmd+S: save")

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="drumscribe">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{heading}</h1><p class="by">drum transcription by drumscribe</p>{note}</header>
<section id="transport" aria-label="Playback">
  <button id="play" type="button" title="Play / pause (space)">&#9654; Play</button>
  <button id="rewind" type="button" title="Back to the start (Home)">&#9664;&#9664;</button>
  <span id="clock">0:00.00</span>
  <label class="mix"><input type="checkbox" id="orig-on" checked> Original
    <input type="range" id="orig-level" min="0" max="1" step="0.01" value="1" aria-label="Original level"></label>
  <label class="mix"><input type="checkbox" id="synth-on" checked> Drums (synth)
    <input type="range" id="synth-level" min="0" max="1" step="0.01" value="0.7" aria-label="Synth drums level"></label>
  <span class="zoom"><button id="zoom-out" type="button" title="Zoom out (-)">&minus;</button>
    <button id="zoom-in" type="button" title="Zoom in (+)">+</button>
    <label><input type="checkbox" id="follow" checked> follow</label></span>
  <span id="status" role="status"></span>
</section>
<section id="editor" aria-label="Editing">
  <button id="save" type="button" title="Save (Ctrl+S)">Save</button>
  <button id="undo" type="button" title="Undo (Ctrl+Z)">Undo</button>
  <button id="redo" type="button" title="Redo (Ctrl+Shift+Z)">Redo</button>
  <label class="velocity">Velocity <input id="velocity" type="number" min="1" max="127" step="1" disabled></label>
  <button id="download" type="button" title="Download the hits as they are now (edited.json)">Download</button>
  <span id="edit-state">No changes</span>
</section>
<p id="help">{help}</p>
<section id="grid" aria-label="Drum grid">
  <div id="labels"></div>
  <div id="scroller"><div id="canvas"><div id="ruler"></div><div id="lanes"></div><div id="playhead"></div></div></div>
</section>
<section id="summary" aria-label="Summary">{summary}</section>{tab}
<audio id="original" preload="auto"></audio>
<script type="application/json" id="drumscribe-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
