"""The MusicXML as a drummer sees it in MuseScore 3: Debian's ``mscore3``, run headless, imports the
file, renders it and writes it back as MuseScore's own score (.mscx), which the tests read.

Skipped, with the reason, where ``mscore3`` is not installed (``apt-get install musescore3``;
CI installs it). MuseScore 4 reads the same marks (its importer maps ``open-string`` to the same
"o"); music21's reading is in test_musicxml.py."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from drumscribe import render_musicxml
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription

MSCORE = shutil.which("mscore3")
pytestmark = pytest.mark.skipif(MSCORE is None, reason="MuseScore 3 (mscore3) is not installed: apt-get install musescore3")

# what mscore3 says on a clean conversion: the rest of its log is the importer's complaints
CONVERSION_LINES = re.compile(r"^(convert <.*>\.\.\.|\tto <.*>|\.\.\. success!)$")
# MuseScore 3's importer tracks instrument changes within a part and logs this line whenever two
# notes with different <instrument> ids (or a note and a rest) start together: in a drum part that
# is every beat where two drums, or hands and a foot's rest, meet. The <instrument> ids cannot go:
# they are how MuseScore picks each drum's sound. Its own exports of the same score log the same.
SAME_TIME = re.compile(r"^instr '.*', tick .*: element already exists$")
NOTES = {"kick": 36, "snare": 38, "hihat_closed": 42, "hihat_open": 46, "crash": 49, "tom_high": 48}


def hit(t, instrument, velocity=80):
    return DrumEvent(round(t, 4), instrument, NOTES[instrument], velocity, 0.9)


def groove() -> Transcription:
    """Eight bars at a steady 100 BPM as a beat tracker reports it (each beat up to 20 ms off):
    8th-note hats with accents on the beat, an open hat on the last 8th of every other bar,
    kick 1 and 3, snare 2 and 4, a crash to start and a tom fill to end."""
    rng = random.Random(3)
    beats = [round(0.6 + 0.6 * i + rng.uniform(-0.02, 0.02), 4) for i in range(33)]
    events = [hit(beats[0], "crash", 120)]
    for i, (b, nxt) in enumerate(zip(beats, beats[1:])):
        bar, beat = divmod(i, 4)
        last_eighth = beat == 3 and bar % 2 == 1
        events += [hit(b, "hihat_closed", 110), hit((b + nxt) / 2, "hihat_open" if last_eighth else "hihat_closed", 70)]
        events.append(hit(b, "kick" if beat % 2 == 0 else "snare", 100))
    events += [hit(beats[-1], "crash", 120), hit(beats[-1], "kick", 110)]
    return Transcription(events=tuple(sorted(events, key=lambda e: (e.time, e.note))), tempo=100.0, beats=tuple(beats),
                         downbeats=tuple(beats[::4]), source=SourceInfo(name="steady.wav"))


def mscore(tmp_path: Path, source: Path, target: Path) -> list[str]:
    """Convert ``source`` to ``target`` with mscore3 (format from the suffix): its log, line by line."""
    home = tmp_path / "home"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"))
    done = subprocess.run([MSCORE, "-o", str(target), str(source)], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The groove as MusicXML, and what MuseScore 3 made of it: log, .mscx, PNG, SVG, its own MusicXML."""
    tmp = tmp_path_factory.mktemp("musescore")
    xml = tmp / "steady.musicxml"
    xml.write_text(render_musicxml(groove()))
    log = mscore(tmp, xml, tmp / "steady.mscx")
    mscore(tmp, xml, tmp / "steady.png")
    mscore(tmp, xml, tmp / "steady.svg")
    mscore(tmp, xml, tmp / "own.musicxml")  # MuseScore 3's own export of the same score...
    own_log = mscore(tmp, tmp / "own.musicxml", tmp / "own.mscx")  # ...and what importing that says
    return {"dir": tmp, "log": log, "own_log": own_log, "mscx": ET.parse(tmp / "steady.mscx").getroot()}


def test_the_import_log_has_no_complaint_of_its_own(imported):
    complaints = [line for line in imported["log"] if not CONVERSION_LINES.match(line)
                  and not SAME_TIME.match(line) and not line.startswith("QStandardPaths:")]
    assert complaints == []
    # the "element already exists" lines are MuseScore's, not the file's: its own export logs as many
    ours = [line for line in imported["log"] if SAME_TIME.match(line)]
    own = [line for line in imported["own_log"] if SAME_TIME.match(line)]
    assert len(ours) <= len(own)


def chords_with(root: ET.Element, pitch: int) -> list[ET.Element]:
    return [c for c in root.iter("Chord") if any(n.findtext("pitch") == str(pitch) for n in c.iter("Note"))]


def test_open_hats_keep_their_o(imported):
    opens = chords_with(imported["mscx"], 46)
    assert len(opens) == 4  # every other bar of eight
    assert all(any(a.findtext("subtype") == "brassMuteOpen" for a in c.iter("Articulation")) for c in opens)
    closed = chords_with(imported["mscx"], 42)
    assert closed and not any(a.findtext("subtype") == "brassMuteOpen" for c in closed for a in c.iter("Articulation"))
    heads = {n.findtext("head") for c in opens for n in c.iter("Note")}
    assert heads == {"cross"}  # an x head with the o, as drummers read it


def test_one_tempo_mark_for_a_steady_groove_and_a_final_barline(imported):
    tempos = ["".join(t.find("text").itertext()) for t in imported["mscx"].iter("Tempo")]
    assert len(tempos) == 1 and tempos[0].endswith("= 100")  # not one per bar the tracker's jitter moved
    measures = list(imported["mscx"].iter("Measure"))
    assert len(measures) == 9
    assert [b.findtext("subtype") for m in measures for b in m.iter("BarLine")] == ["end"]  # only after the last bar


def test_the_rendered_page_exists(imported):
    png = imported["dir"] / "steady-1.png"
    assert png.stat().st_size > 20_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def boxes(svg: Path) -> list[tuple[str, float, float, float, float]]:
    """(class, left, top, right, bottom) of every element MuseScore's SVG export names."""
    out = []
    for el in ET.parse(svg).getroot().iter():
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", el.get("d") or el.get("points") or "")]
        if el.get("class") and numbers:
            xs, ys = numbers[0::2], numbers[1::2]
            out.append((el.get("class"), min(xs), min(ys), max(xs), max(ys)))
    return out


def test_every_tempo_mark_clears_what_is_below_it(imported):
    found = boxes(imported["dir"] / "steady-1.svg")
    lines = sorted({b[2] for b in found if b[0] == "StaffLines"})
    space = lines[1] - lines[0]
    marks: list[list[float]] = []  # the glyphs of one mark ("♩ = 100") touch or nearly
    for _, left, top, right, bottom in sorted(b for b in found if b[0] == "Tempo"):
        if marks and left - marks[-1][2] < 2 * space and abs(top - marks[-1][1]) < 3 * space:
            marks[-1] = [marks[-1][0], min(top, marks[-1][1]), max(right, marks[-1][2]), max(bottom, marks[-1][3])]
        else:
            marks.append([left, top, right, bottom])
    assert len(marks) == 1
    for left, top, right, bottom in marks:
        below = [b for b in found if b[0] in ("Articulation", "Note", "Stem", "Beam", "Tuplet", "Rest")
                 and b[1] < right and b[3] > left and b[2] > top]
        assert any(b[0] == "Articulation" for b in below)  # the first accent is under the mark
        assert min(b[2] for b in below) - bottom >= 0.4 * space
