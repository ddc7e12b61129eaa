"""Benchmark: ``drumscribe sync`` against ``aws s3 sync`` on the same tree and the same moto server.

    .venv/bin/python benchmarks/sync.py [--jobs 50] [--files-per-job 40] [--audio 20] [--keep]

Generates (under /tmp, never the repo) 2,000 small result files in 50 jobs plus 20 audio files
of 5-30 MB of random bytes, starts a moto server on 127.0.0.1 (port 0), and times, for each
tool, in its own bucket:

1. first push            (everything uploaded)
2. no-op push            (nothing changed)
3. push after 10 edits   (9 ordinary edits + 1 same-size edit whose mtime is restored)
4. pull to an empty folder

Both tools run as subprocesses with the same fake credentials and ``--endpoint-url``, so each
pays its own interpreter start-up. The table shows seconds and the aws/drumscribe ratio (> 1:
drumscribe faster), and whether each tool uploaded the same-size edit.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

VENV_BIN = Path(sys.executable).parent
ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
MB = 1024 * 1024


def generate(root: Path, jobs: int, per_job: int, audio: int, rng: random.Random) -> list[str]:
    """The tree, as keys relative to ``root``; returns the keys of the 10 files the edit step changes."""
    small = []
    for j in range(jobs):
        job = f"processed/bench/20261125T{j // 60:02d}{j % 60:02d}00Z-{j:08x}"
        for f in range(per_job):
            key = f"{job}/part-{f:03d}.json" if f else f"{job}/transcription.json"
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(rng.randint(300, 6000)))
            small.append(key)
    for a in range(audio):
        path = root / f"uploads/bench/20261125T0000{a:02d}Z_{a:012x}_take {a}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(rng.randint(5 * MB, 30 * MB)))
    return rng.sample(small, 10)


def edit(root: Path, keys: list[str]) -> str:
    """9 ordinary edits (size changes) and 1 same-size edit with its mtime put back; returns the latter."""
    for key in keys[1:]:
        path = root / key
        path.write_bytes(path.read_bytes() + b"\n edited")
    sneaky = root / keys[0]
    st = sneaky.stat()
    data = bytearray(sneaky.read_bytes())
    data[0] ^= 0xFF
    sneaky.write_bytes(bytes(data))
    os.utime(sneaky, ns=(st.st_atime_ns, st.st_mtime_ns))
    return keys[0]


def run(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for scope in ("uploads", "processed"):
        for path in sorted((root / scope).rglob("*")):
            if path.is_file():
                out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def cycle(n: int, pristine: Path, changed: list[str], work: Path, url: str, env: dict[str, str], s3) -> tuple[list, dict, bool]:
    """One full run of the four steps for both tools, on fresh buckets and a fresh copy of the tree."""
    ds_bucket, aws_bucket = f"bench-drumscribe-{n}", f"bench-awscli-{n}"
    for bucket in (ds_bucket, aws_bucket):
        s3.create_bucket(Bucket=bucket)
    # drumscribe's mirror is $DRUMSCRIBE_HOME/<bucket>; aws s3 sync reads the very same folder
    home = work / f"home-{n}"
    root = home / ds_bucket
    shutil.copytree(pristine, root)  # copy2: mtimes preserved
    os.sync()  # nobody pays for the other's page-cache writeback
    ds_env = {**env, "DRUMSCRIBE_HOME": str(home), "AWS_S3_BUCKET": ds_bucket}
    ds = [str(VENV_BIN / "drumscribe"), "sync"]
    aws = [str(VENV_BIN / "aws"), "--endpoint-url", url, "s3", "sync", "--only-show-errors"]
    exclude = ["--exclude", ".drumscribe/*"]  # drumscribe's manifest: not part of the tree
    rows = []

    def row(name, ds_cmd, aws_cmd, ds_env_=ds_env):
        # alternate who goes first, so neither always meets a cold server or cache
        if (len(rows) + n) % 2:
            t_aws, t_ds = run(aws_cmd, env), run(ds_cmd, ds_env_)
        else:
            t_ds, t_aws = run(ds_cmd, ds_env_), run(aws_cmd, env)
        rows.append((name, t_ds, t_aws))
        print(f"  [{n}] {name}: drumscribe {t_ds:.2f} s, aws {t_aws:.2f} s", flush=True)

    row("first push", ds + ["push", "-q"], aws + exclude + [str(root), f"s3://{aws_bucket}"])
    row("no-op push", ds + ["push", "-q"], aws + exclude + [str(root), f"s3://{aws_bucket}"])
    time.sleep(1.1)  # so an mtime-based tool sees ordinary edits as newer than the upload
    sneaky = edit(root, changed)
    os.sync()
    row("push after 10 edits", ds + ["push", "-q"], aws + exclude + [str(root), f"s3://{aws_bucket}"])
    caught = {
        name: s3.get_object(Bucket=bucket, Key=sneaky)["Body"].read() == (root / sneaky).read_bytes()
        for name, bucket in (("drumscribe", ds_bucket), ("aws s3 sync", aws_bucket))
    }
    pull_home = work / f"pull-home-{n}"
    aws_dest = work / f"aws-pull-{n}"
    row("pull to empty folder", ds + ["pull", "-q"], aws + [f"s3://{aws_bucket}", str(aws_dest)],
        {**ds_env, "DRUMSCRIBE_HOME": str(pull_home)})
    # drumscribe's pull must reproduce the edited tree exactly; aws's differs by the missed edit
    exact = tree_digest(pull_home / ds_bucket) == tree_digest(root)
    for path in (home, pull_home, aws_dest):
        shutil.rmtree(path, ignore_errors=True)
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=60).close()  # free the server's memory between cycles
    return rows, caught, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--files-per-job", type=int, default=40)
    parser.add_argument("--audio", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="full cycles; the table shows medians")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the generated tree under /tmp")
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    work = Path(tempfile.mkdtemp(prefix="drumscribe-bench-", dir="/tmp"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        env = {**os.environ, **ENV, "AWS_ENDPOINT_URL": url, "DRUMSCRIBE_CONFIG": str(work / "none.toml")}
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"])
        pristine = work / "tree"
        started = time.perf_counter()
        changed = generate(pristine, args.jobs, args.files_per_job, args.audio, random.Random(args.seed))
        files = sum(1 for p in pristine.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in pristine.rglob("*") if p.is_file())
        print(f"tree: {files} files, {size / MB:.0f} MiB, generated in {time.perf_counter() - started:.1f} s; moto at {url}")

        results = [cycle(n, pristine, changed, work, url, env, s3) for n in range(args.repeat)]
        names = [name for name, _, _ in results[0][0]]
        print()
        print(f"median of {args.repeat} cycles (seconds; aws/ds > 1 means drumscribe is faster)")
        print(f"{'step':<22}{'drumscribe':>11}{'aws s3 sync':>13}{'aws/ds':>8}   all runs (ds | aws)")
        for i, name in enumerate(names):
            t_ds = [r[0][i][1] for r in results]
            t_aws = [r[0][i][2] for r in results]
            m_ds, m_aws = statistics.median(t_ds), statistics.median(t_aws)
            runs = " ".join(f"{x:.2f}" for x in t_ds) + " | " + " ".join(f"{x:.2f}" for x in t_aws)
            print(f"{name:<22}{m_ds:>11.2f}{m_aws:>13.2f}{m_aws / m_ds:>8.2f}   {runs}")
        print()
        for tool in ("drumscribe", "aws s3 sync"):
            hits = sum(1 for r in results if r[1][tool])
            print(f"same-size edit with restored mtime uploaded by {tool}: {hits}/{args.repeat} cycles")
        print(f"drumscribe's pull reproduced the edited tree byte for byte: {sum(1 for r in results if r[2])}/{args.repeat} cycles")
        print(f"machine: {os.cpu_count()} CPUs (shared), Python {sys.version.split()[0]}, moto server in the benchmark process")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
