"""What downloads are called: after the song, safe on any file system and in an HTTP header."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from drumscribe.downloads import content_disposition, download_name

JOB = "20261201T090000Z-abcdef12"


@pytest.mark.parametrize("song, expected", [
    ("groove.wav", "groove.mid"),
    ("My Song (live).flac", "My Song (live).mid"),
    ("Café – été.m4a", "Café – été.mid"),  # accents and dashes kept: the file system takes them, the header encodes them
    ("two.dots.in.it.mp3", "two.dots.in.it.mid"),
    ("no extension", "no extension.mid"),
    ("some/folder/take 3.wav", "take 3.mid"),
    ("C:\\Users\\me\\take 4.wav", "take 4.mid"),
    ("..hidden.wav", "hidden.mid"),
    ('a"b<c>d|e?f*g:h.wav', "a_b_c_d_e_f_g_h.mid"),
    ("line\r\nX-Injected: yes.wav", "line_X-Injected_ yes.mid"),
    ("con.wav", "_con.mid"),  # a Windows device name
    ("x" * 300 + ".wav", "x" * 100 + ".mid"),
    ("", f"{JOB}.mid"), (None, f"{JOB}.mid"), ("///", f"{JOB}.mid"), ("   .wav", f"{JOB}.mid"),
])
def test_a_download_is_named_after_the_song(song, expected):
    assert download_name(song, ".mid", JOB) == expected


def test_the_header_carries_the_exact_name_and_a_plain_fallback():
    header = content_disposition("Café – été.mid")
    assert header.startswith('attachment; filename="Cafe ete.mid"; filename*=UTF-8\'\'')
    assert unquote(header.split("UTF-8''", 1)[1]) == "Café – été.mid"
    hostile = content_disposition('a"\r\nb\\c.mid')
    assert "\r" not in hostile and "\n" not in hostile and hostile.count('"') == 2
