"""Re-make the transcript of docs/editing.md's "Learning from your corrections".

    .venv/bin/python docs/scripts/tuning_transcript.py [--data ../shared/data/mdb-dev] > /tmp/tune.txt

A user who corrected the first half of every development recording (MDB Drums: read, never
copied; benchmarks/tune.py cuts them in halves under /tmp): each half is transcribed into a fresh
local mirror, its annotations are imported as the correction (`edit --import` of a transcription
JSON), then the CLI runs in-process. Paste by hand (the page shows `tune --status` down to its thresholds).
"""
import argparse, json, os, shlex, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "benchmarks")]
p = argparse.ArgumentParser()
p.add_argument("--data", type=Path, default=(REPO / ".." / "shared" / "data" / "mdb-dev").resolve())
a = p.parse_args()
work = tempfile.mkdtemp(prefix="drumscribe-tune-"); os.chdir(work)
for k in list(os.environ):
    if k.startswith(("AWS_", "DRUMSCRIBE_")): del os.environ[k]
os.environ.update(DRUMSCRIBE_HOME=work + "/home", DRUMSCRIBE_USER="alice", DRUMSCRIBE_CONFIG=work + "/none.toml", COLUMNS="110")
from typer.testing import CliRunner
import drumscribe
from drumscribe.cli import app
from drumscribe.transcription.result import Transcription
import tune as bench  # benchmarks/tune.py

firsts, seconds = bench.halves(bench.recordings(a.data), Path(work) / "songs")


def run(line, show=None):
    print("$ " + line.replace(work + "/songs/audio/drum_only", "~/takes"))
    result = CliRunner().invoke(app, shlex.split(line.split(" | ")[0])[1:])
    text = (result.stderr + result.stdout).rstrip() if show is None else show(result.stdout)
    print(text.replace(work + "/songs/audio/drum_only", "~/takes").replace(work + "/songs/audio/full_mix", "~/takes").replace(work, "~"))
    if result.exit_code:
        print(f"[exit {result.exit_code}]")
    print()


jobs = []
for name, kind, wav, ann in firsts:
    t, _ = drumscribe.transcribe_and_store(wav)
    jobs.append((t.job_id, name, kind, ann))
run("drumscribe tune")
for n, (job, name, kind, ann) in enumerate(jobs):
    doc = Path(f"{name}-{kind}.json")
    doc.write_text(Transcription(events=tuple(bench.annotated_events(ann)), tempo=None).to_json())
    if n == 0:
        run(f"drumscribe edit {job} --import {doc}")
    else:
        CliRunner().invoke(app, ["edit", job, "--import", str(doc)])
print(f"(and so on for the other {len(jobs) - 1} first halves)\n")
run("drumscribe tune --no-fine-tune")
run("drumscribe tune --status")
punk = next(wav for name, kind, wav, _ in seconds if name == "Punkb")
run(f"drumscribe transcribe {punk} --json | jq -c .model",
    show=lambda out: json.dumps(json.loads(out)["model"], separators=(",", ":"), ensure_ascii=False))
run("drumscribe tune --reset")
