"""Untrusted text on a terminal: file names, stored source names and error messages that quote them.

A file name may hold any character but ``/`` and NUL, a job's source name is whatever file name
its owner transcribed (``jobs --user '*'`` lists every user's), and a bucket may hold keys another
tool wrote. Printed as it is, an escape sequence in such a name would restyle the terminal,
retitle the window or write to the clipboard (OSC 52), a carriage return would overwrite the line
before it, and a bidirectional override (U+202E) would make ``evil<U+202E>vaw.exe`` read as
``evilexe.wav``. Stored data keeps the name exactly; only what is
printed goes through ``printable``.
"""

from __future__ import annotations

import unicodedata

# Unicode's bidirectional formatting characters (Trojan Source, CVE-2021-42574)
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with control characters (C0, DEL, C1) and bidi overrides written as escapes
    (``\\x1b``, ``\\n``, ``\\u202e``); everything else, accents and emoji included, unchanged."""
    s = str(text)
    if s.isprintable():  # the usual case, and a fast one
        return s
    return "".join(_shown(ch) if ch in _BIDI or unicodedata.category(ch) == "Cc" else ch for ch in s)


def one_line(message: object) -> str:
    """An error message on one printable line: whitespace runs (a traceback's newlines) become one
    space, then what is left of control characters is made visible."""
    return printable(" ".join(str(message).split()))
