"""The checks made when no bucket is configured (or ``--local``): the local mirror's folder exists,
is writable, and holds a test file written atomically, read back and removed."""

from __future__ import annotations

import os
import secrets
from typing import Any

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.doctor.checks import Failed, Runner


def local_checks(settings: Settings, run: Runner) -> None:
    from drumscribe.storage.local import LocalStorage

    root = settings.local_root
    state: dict[str, Any] = {}

    def root_ok() -> str:
        existed = root.is_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Failed(f"cannot create the local mirror {root}: {exc.strerror}", "set DRUMSCRIBE_HOME to a folder you can write") from None
        return f"{root} {'exists' if existed else 'created'}"

    def writable() -> str:
        probe = root / f".doctor-{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise Failed(f"cannot write in {root}: {exc.strerror}", "fix the folder's permissions or set DRUMSCRIBE_HOME") from None
        return f"{root} is writable"

    def round_trip() -> str:
        storage = LocalStorage(root, bucket=settings.bucket)
        key = keys.temp_key(f"doctor-{secrets.token_hex(6)}", "probe.bin")
        data = os.urandom(4096)
        state.update(storage=storage, key=key)
        storage.put(key, data)  # temp file + rename
        if storage.get(key) != data:
            raise Failed(f"read back different bytes from {key}")
        return f"wrote (atomically) and read back {len(data)} identical bytes at {key}"

    def cleanup() -> str:
        storage, key = state["storage"], state["key"]
        storage.delete(key)
        if storage.exists(key):
            raise Failed(f"test file {key} is still there after deleting it", f"remove it from {root}")
        return f"test file {key} removed"

    run.run("local-root", root_ok, fatal=True)
    run.run("writable", writable, fatal=True)
    run.run("round-trip", round_trip)
    if "key" in state:
        run.run("cleanup", cleanup)
    else:
        run.run("cleanup", lambda: "", needs=["round-trip"])
