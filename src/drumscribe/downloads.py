"""What a downloaded result is called: after the song, not after its key.

Results are stored as ``processed/{user}/{job}/output.mid`` and ``transcription.json`` (the bucket
layout, ``keys.py``); a drummer who downloads three songs' MIDI should get ``Song A.mid``,
``Song B.mid``... not ``output.mid``, ``output (1).mid``. ``download_name`` makes that name from
the song's file name, safe on every file system and in an HTTP header; ``content_disposition``
is the header that makes browsers use it (S3 sends it for a presigned GET that asks with
``ResponseContentDisposition``; a page's ``download`` attribute alone is ignored cross-origin).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

MAX_STEM = 100  # characters kept of the song's name
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*%;]+')  # path separators, Windows' reserved, header specials
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def download_name(song: str | None, suffix: str, fallback: str = "drums") -> str:
    """``"My Song (live).wav", ".mid"`` -> ``"My Song (live).mid"``.

    The song's base name without its extension (directories and either slash dropped), NFC,
    with control characters, path separators and characters Windows or an HTTP header would
    choke on replaced by ``_``, spaces collapsed, no leading dots, at most ``MAX_STEM``
    characters, never a Windows device name; ``fallback`` (a job id, say) when nothing is left.
    """
    name = PureWindowsPath(PurePosixPath(str(song or "")).name).name
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = unicodedata.normalize("NFC", stem)
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"\s+", " ", stem).strip(" ._")[:MAX_STEM].rstrip(" .")
    if not stem:
        stem = _UNSAFE.sub("_", fallback).strip(" ._") or "drums"
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    return stem + suffix


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` for every browser: a plain ASCII fallback, and the exact
    (UTF-8) name as ``filename*`` (RFC 6266 / RFC 8187)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"\s+", " ", re.sub(r'["\\\x00-\x1f\x7f]', "_", ascii_name)).strip() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
