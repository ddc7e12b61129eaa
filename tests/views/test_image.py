"""The drum grid as PNG and SVG (matplotlib)."""

from __future__ import annotations

import io
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from drumscribe import render_image
from drumscribe.views import image as image_module
from drumscribe.errors import DrumscribeError, InputError
from samples import groove, hostile

pytest.importorskip("matplotlib")  # in the `test` extra; a bare install gets the one-line error below
from PIL import Image  # noqa: E402  (matplotlib depends on Pillow)

SVG = "{http://www.w3.org/2000/svg}"


def markers(svg: bytes) -> list[ET.Element]:
    """The dots of the scatter plots, one per hit drawn (glyphs of the labels are not counted)."""
    groups = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if (g.get("id") or "").startswith("PathCollection")]
    return [path for group in groups for path in group.iter(f"{SVG}path")]


def dots(svg: bytes) -> int:
    return len(markers(svg))


def ink_runs(image: Image.Image, box: tuple[int, int, int, int]) -> list[int]:
    """Heights in pixels of the runs of rows with dark pixels inside ``box``: one per line of text."""
    grey = image.convert("L").crop(box)
    dark = [any(grey.getpixel((x, y)) < 128 for x in range(grey.width)) for y in range(grey.height)]
    runs, length = [], 0
    for is_dark in dark + [False]:
        if is_dark:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return runs


def test_twenty_seconds_wrap_into_rows_a_screen_shows_at_full_size():
    t = groove(bars=10)  # 120 BPM: 20.5 s, the 2560x258 strip
    image = Image.open(io.BytesIO(render_image(t)))
    assert image.format == "PNG" and image.width == 1300  # fits a laptop screen: shown 1:1, not scaled down
    assert image.height > 0.5 * image.width  # rows of four bars, not a strip
    assert len(image_rows(render_image(t, "svg"))) == 3  # bars 1-4, 5-8, 9-11
    longer = Image.open(io.BytesIO(render_image(groove(bars=20))))
    assert longer.width == image.width and longer.height > 1.6 * image.height  # more bars: more rows


def test_dots_and_text_are_a_readable_size():
    t = groove(bars=10)
    image = Image.open(io.BytesIO(render_image(t)))
    title = ink_runs(image, (0, 0, image.width // 2, 50))
    assert len(title) == 1 and title[0] >= 14  # 14 pt at 100 dpi, descenders included
    top = int((image_module.TITLE_INCHES + 0.3) * 100)
    labels = ink_runs(image, (0, top, 140, top + int(image_module.LANE_INCHES * 100) * 6))  # the first row's lane names
    assert len(labels) == 6 and min(labels) >= 9  # Crash, Hi-hat closed, High tom, Low tom, Snare, Kick: 11 pt
    widths = []
    for path in markers(render_image(t, "svg")):
        xs = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))][0::2]
        widths.append((max(xs) - min(xs)) * 100 / 72)  # SVG points -> pixels at 100 dpi
    assert min(widths) >= 7 and max(widths) <= 18


def image_rows(svg: bytes) -> list[ET.Element]:
    return [g for g in ET.fromstring(svg).iter(f"{SVG}g") if re.fullmatch(r"axes_\d+", g.get("id") or "")]


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
