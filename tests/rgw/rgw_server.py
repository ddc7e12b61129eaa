"""A throwaway single-node Ceph RADOS Gateway on 127.0.0.1: a real S3 server for the tests.

    python tests/rgw/rgw_server.py start [DIR]   # installs Debian's packages if missing (as root),
                                                 # starts mon + OSD + radosgw, prints the S3 settings
    python tests/rgw/rgw_server.py stop DIR      # stops the daemons and removes DIR

Everything lives in one folder (config, mon store, logs, sockets, pid files); the OSD keeps its
objects in memory (``memstore``), so stopping leaves nothing behind. It starts from nothing in
about 13 s on 2 cores, without systemd, in under 200 MB: one monitor, one OSD, pools of size 1,
``auth none``, and RGW's beast frontend on a free loopback port. The admin user (``admin``) owns
the buckets and may use RGW's IAM subset (user policies, roles).

Settings that are not defaults, and why:

* ``ms_mon_client_mode = crc secure``: without it radosgw retries the monitor for about two
  minutes before it serves a request.
* ``osd_objectstore = memstore``: no disk to prepare; objects live in the OSD's memory.
* ``rgw_crypt_require_ssl = false`` (set in the monitor's config database, so that a test can turn
  it back on at run time): RGW refuses any request carrying an SSE header over plain HTTP
  (``InvalidRequest``), and drumscribe asks for SSE on every upload; behind TLS, which is how RGW is
  run for real, the header is accepted. docs/s3-compatible.md says what RGW 16 does with it.
* ``mon_data_avail_warn/crit``: a monitor shuts down when its disk is 95 % full, as a CI disk may be.

With the ``pytest`` fixture (tests/rgw/conftest.py) the daemons are children of the test process
and die with it even when it is killed (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-common")
BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")
INSTALL = "apt-get install -y --no-install-recommends " + " ".join(PACKAGES)
ADMIN_KEY = "DRUMSCRIBERGWADMIN01"
ADMIN_SECRET = "drumscribe-rgw-admin-secret-0000000000000"
ADMIN_CAPS = "users=*;buckets=*;metadata=*;usage=*;zone=*;user-policy=*;roles=*"
REGION = "us-east-1"


class RGWUnavailable(Exception):
    """Why RGW cannot run here (what to install, or what the daemons said): a skip reason."""


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def install_packages() -> None:
    """``apt-get install`` Debian's Ceph packages, as ``.ci/run`` does for Chromium (root only)."""
    if not missing_binaries():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RGWUnavailable(f"Ceph RGW is not installed ({', '.join(missing_binaries())} missing): run `{INSTALL}` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], INSTALL.split()):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RGWUnavailable(f"`{' '.join(command)}` failed: {done.stderr.strip().splitlines()[-1:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RGW:
    """One cluster in ``root``. ``start()`` then use ``endpoint`` and the admin keys; ``stop()``."""

    root: Path
    tie_to_parent: bool = False  # True: the daemons die with this process (the pytest fixture)
    mon_port: int = 0
    port: int = 0
    processes: list[subprocess.Popen] = field(default_factory=list)
    started_in: float = 0.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.root / "ceph.conf"

    def env(self) -> dict[str, str]:
        """The settings a drumscribe user of this server sets (the admin's keys)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
                "AWS_REGION": REGION}

    # -- start ---------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> "RGW":
        missing = missing_binaries()
        if missing:
            raise RGWUnavailable(f"Ceph RGW is not installed ({', '.join(missing)} missing): `{INSTALL}`")
        began = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "log", "mon/ceph-a", "osd/ceph-0", "rgw"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.mon_port, self.port = free_port(), free_port()
        fsid = str(uuid.uuid4())
        self._write_conf(fsid)
        try:
            self._ceph("monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]", str(self.root / "monmap"))
            self._ceph("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(self.root / "monmap"))
            self._daemon("ceph-mon", "-i", "a")
            # in the monitor's config database, not ceph.conf (which would win): a test may change it at run time
            self._ceph("ceph", "config", "set", "client.rgw.a", "rgw_crypt_require_ssl", "false", wait=min(30.0, timeout))
            osd_uuid = str(uuid.uuid4())
            osd_id = self._ceph("ceph", "osd", "new", osd_uuid, wait=min(30.0, timeout)).strip()
            self._ceph("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
            self._daemon("ceph-osd", "-i", osd_id)
            self._daemon("radosgw", "-n", "client.rgw.a")
            self._wait_for_http(began + timeout)
            self._ceph("radosgw-admin", "user", "create", "--uid=admin", "--display-name=drumscribe tests (bucket owner)",
                       f"--access-key={ADMIN_KEY}", f"--secret-key={ADMIN_SECRET}", f"--caps={ADMIN_CAPS}")
        except BaseException:
            self.stop(remove=False)
            raise
        self.started_in = time.monotonic() - began
        (self.root / "rgw.json").write_text(json.dumps({"pids": [p.pid for p in self.processes], **self.env()}))
        return self

    def _write_conf(self, fsid: str) -> None:
        r = self.root
        self.conf.write_text(f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{self.mon_port}
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
mon data avail warn = 1
mon data avail crit = 0
run dir = {r}/run
admin socket = {r}/run/$name.asok
pid file = {r}/run/$name.pid
log file = {r}/log/$name.log
mon data = {r}/mon/$cluster-$id
osd data = {r}/osd/$cluster-$id
keyring = {r}/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{self.port}
rgw data = {r}/rgw
""")

    def _ceph(self, tool: str, *args: str, wait: float = 60.0) -> str:
        done = subprocess.run([tool, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=wait)
        if done.returncode != 0:
            raise RGWUnavailable(f"`{tool} {' '.join(args[:3])}` failed: {(done.stderr or done.stdout).strip()[-300:]}")
        return done.stdout

    def _daemon(self, tool: str, *args: str) -> None:
        log = open(self.root / "log" / f"{tool}.out", "ab")
        process = subprocess.Popen(
            [tool, "-c", str(self.conf), "-f", *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if self.tie_to_parent else None, start_new_session=not self.tie_to_parent)
        log.close()
        self.processes.append(process)

    def _wait_for_http(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            for p in self.processes:
                if p.poll() is not None:
                    raise RGWUnavailable(f"{Path(p.args[0]).name} exited with {p.returncode}: {self._log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # any answer: radosgw serves requests
            except OSError:
                time.sleep(0.25)
        raise RGWUnavailable(f"radosgw did not answer at {self.endpoint} in time: {self._log_tail()}")

    def _log_tail(self) -> str:
        lines = []
        for path in sorted((self.root / "log").glob("*")):
            try:
                lines += [f"{path.name}: {line}" for line in path.read_text(errors="replace").splitlines()[-3:]]
            except OSError:
                pass
        return " | ".join(lines)[-600:]

    # -- users ---------------------------------------------------------------------------------

    def create_user(self, uid: str, *, access_key: str, secret_key: str, max_buckets: int = -1) -> None:
        """A user made the way Ceph makes them (``radosgw-admin``: RGW has no IAM CreateUser).
        ``max_buckets=-1``: it may not create buckets."""
        self._ceph("radosgw-admin", "user", "create", f"--uid={uid}", f"--display-name={uid}", f"--access-key={access_key}",
                   f"--secret-key={secret_key}", f"--max-buckets={max_buckets}")

    def has_user(self, uid: str) -> bool:
        return subprocess.run(["radosgw-admin", "-c", str(self.conf), "user", "info", f"--uid={uid}"],
                              capture_output=True, timeout=60).returncode == 0

    def remove_user(self, uid: str) -> None:
        """The user, its keys, its inline policies and its objects, gone."""
        self._ceph("radosgw-admin", "user", "rm", f"--uid={uid}", "--purge-data")

    # -- stop ----------------------------------------------------------------------------------

    def stop(self, *, remove: bool = True) -> None:
        pids = [p.pid for p in self.processes if p.poll() is None]
        if not pids and (self.root / "rgw.json").is_file():  # `stop DIR` from another process
            pids = json.loads((self.root / "rgw.json").read_text()).get("pids", [])
        for pid in reversed(pids):  # radosgw, then the OSD, then the monitor
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for p in self.processes:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a child that exited but was not reaped yet is a zombie, not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "start":
        root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="drumscribe-rgw-"))
        try:
            install_packages()
            rgw = RGW(root).start()
        except RGWUnavailable as exc:
            print(f"cannot start Ceph RGW: {exc}", file=sys.stderr)
            return 1
        print(f"# Ceph RGW at {rgw.endpoint}, started in {rgw.started_in:.1f} s; stop it with: {sys.argv[0]} stop {root}")
        for name, value in rgw.env().items():
            print(f"export {name}={value}")
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        RGW(Path(argv[1])).stop()
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
