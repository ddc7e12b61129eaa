"""Benchmark: one batch on a Dask LocalCluster of 1 and then 2 workers, S3 on a moto server.

    .venv/bin/python benchmarks/scale.py [--songs 20] [--seconds 30] [--workers 1 2] [--repeat 1]

Synthesizes ``--songs`` different grooves of ``--seconds`` each (tests/transcription/synth.py),
starts a moto server on 127.0.0.1 (port 0) and, for each worker count, uploads the songs into a
fresh bucket (as ``drumscribe upload`` stores them), starts a LocalCluster (processes, one
thread each) and times ``transcribe_many(["s3://bucket/uploads/"], cluster=...)``: listing,
submitting, workers reading the audio from S3, transcribing with the packaged model (loaded
once per worker, inside the timed run) and writing the results to S3. Cluster start-up is not
timed. For each worker count two batches run on the same cluster: "cold" (fresh worker
processes: imports and the model load fall inside the run) and "warm" (the same workers, a new
bucket: a long-lived cluster's steady state). With ``--repeat N`` the fastest of N is shown.

Columns: wall seconds; audio hours per hour; speed-up over the first row; and where the
worker-seconds went: ``work`` is transcription proper (decode, features, network, beats, MIDI),
``in-task I/O`` the rest of each task (S3 head/get/list/put, hashing, the model's first load),
``scheduling+idle`` what is left of wall x workers (submitting, Dask's per-task overhead,
results coming back, a worker idle at the end). Overhead % = (wall x workers - work) / work.
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
    start = time.perf_counter()
    report = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client, settings=settings)
    wall = time.perf_counter() - start
    assert report.count("done") == len(audio), report.summary()
    work = sum(r.work_seconds for r in report.results)
    task = sum(r.task_seconds for r in report.results)
    return {"workers": workers, "state": state, "wall": wall, "audio": report.audio_seconds, "work": work,
            "io": task - work, "sched": wall * workers - task, "tasks": len(report.results)}


def run(workers: int, audio: list[bytes]) -> list[dict]:
    """Cold: fresh worker processes (imports, model load inside the run); warm: the same workers, a new bucket."""
    import distributed

    env = {name: os.environ[name] for name in (*ENV, "AWS_ENDPOINT_URL", "DRUMSCRIBE_HOME", "DRUMSCRIBE_CONFIG")}
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        return [timed_batch(client, workers, audio, "cold"), timed_batch(client, workers, audio, "warm")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
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
    print(f"{'workers':>7} {'state':>5} {'wall s':>7} {'audio h/h':>9} {'speed-up':>8} {'work s':>7} {'in-task I/O s':>13} "
          f"{'sched+idle s':>12} {'overhead':>8} {'per task':>8}")
    for (state, workers), row in sorted(best.items()):
        base = best[(state, args.workers[0])]["wall"]
        overhead = row["wall"] * row["workers"] - row["work"]
        print(f"{workers:>7} {state:>5} {row['wall']:>7.1f} {row['audio'] / row['wall']:>9.1f} {base / row['wall']:>7.2f}x "
              f"{row['work']:>7.1f} {row['io']:>13.2f} {row['sched']:>12.2f} {100 * overhead / row['work']:>7.1f}% "
              f"{1000 * overhead / row['tasks']:>6.0f}ms")


if __name__ == "__main__":
    main()
