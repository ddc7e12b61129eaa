"""The drum grid as PNG and SVG (matplotlib)."""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET

import pytest

from drumscribe import render_image
from drumscribe.errors import DrumscribeError, InputError
from samples import groove, hostile

pytest.importorskip("matplotlib")  # in the `test` extra; a bare install gets the one-line error below
from PIL import Image  # noqa: E402  (matplotlib depends on Pillow)

SVG = "{http://www.w3.org/2000/svg}"


def dots(svg: bytes) -> int:
    """Hits drawn in an SVG: the markers of the scatter plot (glyphs of the labels are not counted)."""
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("PathCollection"))
    return sum(1 for _ in group.iter(f"{SVG}path"))


def test_png_is_a_picture_as_wide_as_the_song():
    t = groove(bars=2)
    png = render_image(t)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and 500 < image.width < 1200 and 200 < image.height < 400
    longer = Image.open(io.BytesIO(render_image(groove(bars=8))))
    assert longer.width > image.width * 2 and longer.height == image.height  # same lanes, more time


def test_svg_draws_every_hit_and_only_the_chosen_bars():
    t = groove(bars=4)
    assert dots(render_image(t, "svg")) == len(t.events)
    bar_two = [e for e in t.events if 2.5 - 0.0625 <= e.time < 4.5 - 0.0625]
    assert dots(render_image(t, "svg", bars="2-2")) == len(bar_two)
    assert render_image(t, "svg") == render_image(t, "svg")  # no date inside: same input, same bytes


def test_bad_options_are_one_line_errors():
    with pytest.raises(InputError, match="png, svg"):
        render_image(groove(), "gif")
    with pytest.raises(InputError, match="outside this transcription"):
        render_image(groove(), bars="9-12")


def test_hostile_names_are_drawn_not_interpreted():
    svg = render_image(hostile(), "svg")
    elements = list(ET.fromstring(svg).iter())  # still well-formed XML
    assert not [e for e in elements if e.tag.endswith("script") or any(a.lower().startswith("on") for a in e.attrib)]
    assert b"<script" not in svg  # the name is drawn as glyphs (and kept, escaped, in a comment)


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # what `import` sees when it is not installed
    with pytest.raises(DrumscribeError, match=r"pip install 'drumscribe\[view\]'"):
        render_image(groove())
