"""Benchmark: one batch on a Dask LocalCluster of 1 and then 2 workers, S3 on a moto server.

    .venv/bin/python benchmarks/scale.py [--songs 20] [--seconds 180] [--workers 1 2] [--repeat 1]

Synthesizes ``--songs`` different grooves of ``--seconds`` each (tests/transcription/synth.py),
starts a moto server on 127.0.0.1 (port 0) and, for each worker count, uploads the songs into a
fresh bucket (as ``drumscribe upload`` stores them), starts a LocalCluster (processes, one
thread each) and times ``transcribe_many(["s3://bucket/uploads/"], cluster=...)``: listing,
submitting, workers reading the audio from S3, transcribing with the packaged model (loaded
once per worker, inside the timed run) and writing the results to S3. Cluster start-up is not
timed. For each worker count two batches run on the same cluster: "cold" (fresh worker
processes: imports and the model load fall inside the run) and "warm" (the same workers, a new
bucket: a long-lived cluster's steady state). With ``--repeat N`` the fastest of N is shown.

Columns: wall seconds; audio hours per hour; speed-up over the first row; then per task, on
average: ``work`` (transcription proper: decode, features, network, beats, onsets), ``S3`` (the
task's requests: head, download, put), ``Dask gap`` (from the end of one task to the start of
the next on the same worker: scheduling, results travelling), the overhead (S3 + gap) / work,
and ``other`` (the rest of the task: MIDI and JSON encoding, hashing, bookkeeping). ``start``:
from the call to the first task starting (connecting, reading the finished jobs, listing, the
workers loading the model when cold); ``tail``: from the last task's end to the call returning;
``busy``: the share of wall x workers the workers spent inside tasks. On a shared machine the
work per task shows whether each worker had a core to itself: when it doubles with 2 workers,
the second worker was sharing a core with someone else's processes.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "transcription"))  # the groove synthesizer

ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "DRUMSCRIBE_USER": "bench",
}


def songs(n: int, seconds: float) -> list[bytes]:
    import soundfile as sf
    from synth import SR, groove, render

    out = []
    for i in range(n):
        bpm = 90.0 + 3 * i  # all different, so every song is its own content
        signal = render(groove(int(seconds * bpm / 240) + 1, bpm=bpm, start=0.3), seconds, SR, seed=i)
        buffer = io.BytesIO()
        sf.write(buffer, signal, SR, format="WAV", subtype="PCM_16")
        out.append(buffer.getvalue())
    return out


def fresh_bucket(audio: list[bytes]):
    import boto3

    from drumscribe import upload
    from drumscribe.config import load_settings

    bucket = f"scale-bench-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    settings = load_settings(overrides={"bucket": bucket})
    for i, data in enumerate(audio):
        upload(data, settings=settings, filename=f"song{i:02d}.wav")
    return bucket, settings


def timed_batch(client, workers: int, audio: list[bytes], state: str) -> dict:
    from drumscribe import transcribe_many

    bucket, settings = fresh_bucket(audio)
    t0 = time.time()
    report = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client, settings=settings)
    t1 = time.time()
    assert report.count("done") == len(audio), report.summary()
    by_worker: dict[str, list] = {}
    for r in report.results:
        by_worker.setdefault(r.worker, []).append(r)
    gaps = []  # from one task's end to the next task's start on the same worker: Dask's per-task cost
    for tasks in by_worker.values():
        tasks.sort(key=lambda r: r.started_at)
        gaps += [b.started_at - a.finished_at for a, b in zip(tasks, tasks[1:])]
    n = len(report.results)
    return {
        "workers": workers, "state": state, "wall": t1 - t0, "audio": report.audio_seconds,
        "work": sum(r.work_seconds for r in report.results) / n,
        "s3": sum(r.s3_seconds for r in report.results) / n,
        "other": sum(r.task_seconds - r.work_seconds - r.s3_seconds for r in report.results) / n,
        "gap": sum(gaps) / max(1, len(gaps)),
        "busy": sum(r.task_seconds for r in report.results) / ((t1 - t0) * workers),
        "startup": min(r.started_at for r in report.results) - t0,
        "tail": t1 - max(r.finished_at for r in report.results),
    }


def run(workers: int, audio: list[bytes]) -> list[dict]:
    """Cold: fresh worker processes (imports, model load inside the run); warm: the same workers, a new bucket."""
    import distributed

    env = {name: os.environ[name] for name in (*ENV, "AWS_ENDPOINT_URL", "DRUMSCRIBE_HOME", "DRUMSCRIBE_CONFIG")}
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  env=env) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        return [timed_batch(client, workers, audio, "cold"), timed_batch(client, workers, audio, "warm")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=20)
    # a song, not a clip: with ~0.3 s of work per 30 s clip the fixed S3 cost per task dominates
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    os.environ.update(ENV)
    os.environ["DRUMSCRIBE_HOME"] = tempfile.mkdtemp(prefix="drumscribe-scale-")
    os.environ["DRUMSCRIBE_CONFIG"] = str(Path(os.environ["DRUMSCRIBE_HOME"]) / "none.toml")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        audio = songs(args.songs, args.seconds)
        load = os.getloadavg()
        runs = [run(w, audio) for w in args.workers for _ in range(args.repeat)]
    finally:
        server.stop()
    best = {}  # (state, workers) -> the fastest run
    for row in (r for pair in runs for r in pair):
        key = (row["state"], row["workers"])
        if key not in best or row["wall"] < best[key]["wall"]:
            best[key] = row

    print(f"{args.songs} songs x {args.seconds:g} s on a LocalCluster (processes, 1 thread each), S3 on moto; "
          f"{os.cpu_count()} cores, load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'workers':>7} {'state':>5} {'wall s':>7} {'audio h/h':>9} {'speed-up':>8} | per task: {'work s':>6} "
          f"{'S3 ms':>6} {'Dask gap ms':>11} {'overhead':>8} {'other ms':>8} | {'start s':>7} {'tail s':>6} {'busy':>5}")
    for (state, workers), row in sorted(best.items()):
        base = best[(state, args.workers[0])]["wall"]
        overhead = (row["s3"] + row["gap"]) / row["work"]
        print(f"{workers:>7} {state:>5} {row['wall']:>7.1f} {row['audio'] / row['wall']:>9.1f} {base / row['wall']:>7.2f}x | "
              f"{row['work']:>16.2f} {1000 * row['s3']:>6.0f} {1000 * row['gap']:>11.0f} {100 * overhead:>7.1f}% "
              f"{1000 * row['other']:>8.0f} | {row['startup']:>7.1f} {row['tail']:>6.1f} {100 * row['busy']:>4.0f}%")


if __name__ == "__main__":
    main()
