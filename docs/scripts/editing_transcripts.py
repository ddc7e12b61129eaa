"""Re-make the transcripts of docs/editing.md.

    .venv/bin/python docs/scripts/editing_transcripts.py > /tmp/transcripts.txt

A synthesized groove (benchmarks/view_page.py's) is transcribed into a fresh local mirror under
/tmp; the CLI then runs in-process. The DAW is played by a few lines of mido: the MIDI `show`
wrote, with one crash moved onto the crash note and a missed floor tom added. Paste by hand.
"""
import os, shlex, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "tests" / "views"), str(REPO / "tests" / "transcription")]
work = tempfile.mkdtemp(prefix="drumscribe-edit-"); os.chdir(work)
for k in list(os.environ):
    if k.startswith(("AWS_", "DRUMSCRIBE_")): del os.environ[k]
os.environ.update(DRUMSCRIBE_HOME=work + "/home", DRUMSCRIBE_USER="alice", DRUMSCRIBE_CONFIG=work + "/none.toml", COLUMNS="110")
from typer.testing import CliRunner
import drumscribe
from drumscribe.cli import app
from view_page import recording

recording(Path(work) / "groove.wav")
t, _ = drumscribe.transcribe_and_store(Path(work) / "groove.wav")
job = t.job_id


def run(line):
    print("$ " + line)
    result = CliRunner().invoke(app, shlex.split(line)[1:])
    print((result.stderr + result.stdout).rstrip().replace(work, "/home/alice/songs"))
    if result.exit_code:
        print(f"[exit {result.exit_code}]")
    print()


run(f"drumscribe show {job} -f midi -o fixed.mid")
import mido  # the "DAW": the first ride made a crash, a floor tom added an 8th after the first snare
mid = mido.MidiFile("fixed.mid")
track, now, timeline = mid.tracks[1], 0, []
for msg in track:
    now += msg.time
    timeline.append((now, msg))
ride = next(m for _, m in timeline if m.type == "note_on" and m.note == 51)
ride.note = 49
for tick, m in list(timeline):
    if m.type == "note_off" and m.note == 51:
        m.note = 49
        break
snare = next(tick for tick, m in timeline if m.type == "note_on" and m.note == 38)
timeline += [(snare + 240, mido.Message("note_on", channel=9, note=43, velocity=100)),
             (snare + 300, mido.Message("note_off", channel=9, note=43, velocity=0))]
timeline.sort(key=lambda item: (item[0], item[1].type == "end_of_track"))
track.clear()
last = 0
for tick, m in timeline:
    track.append(m.copy(time=tick - last))
    last = tick
mid.save("fixed.mid")
run(f"drumscribe edit {job} --import fixed.mid")
run(f"drumscribe show {job}")
run(f"drumscribe show {job} --revision model -f midi -o model.mid")
run("drumscribe jobs")
run(f"drumscribe open {job}")
from drumscribe.jobs.edits import find_revision, save_edited
found = find_revision(job)
page = Path("edited.json")
import json
doc = json.loads((Path(work) / "home/local" / f"processed/alice/{job}/edited.json").read_text())
doc["edit"] = {"parent": found.current, "revision": None, "via": "editor"}  # a page opened now...
page.write_text(json.dumps(doc))
save_edited(job, found.transcription.events[1:], parent_revision=found.current)  # ...and another saved first
run(f"drumscribe edit {job} --import edited.json")
