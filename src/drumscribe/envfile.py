"""Read and update a ``.env`` file without ever exposing the secrets in it.

Writes are atomic (temp file in the same folder + ``os.replace``) and every file we create is
mode 0600 from the moment it exists (``os.open(..., 0o600)``), so there is no window in which
another local user can read a fresh key. Lines we do not manage (comments, other variables,
``export`` prefixes) are kept as they were; the previous file is first copied to ``.env.bak``
(also 0600) so an overwritten credential can always be recovered.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from drumscribe.errors import ConfigError

MODE = 0o600
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./+:@,=-]*$")


def read_env(path: str | Path) -> dict[str, str]:
    """Variables in ``path`` (empty if it does not exist), parsed by python-dotenv."""
    path = Path(path)
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}")


def _format(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ConfigError(f"refusing to write a multi-line value for {name}")
    if _SAFE_VALUE.match(value):
        return f"{name}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``; the file is 0600 from creation."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, MODE)  # in case a umask-less filesystem ignored the mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def update_env(path: str | Path, values: Mapping[str, str], *, backup: bool = True) -> Path | None:
    """Set ``values`` in the .env at ``path``, keeping every other line; returns the backup's path.

    A variable that appears several times is written once, where it first appeared; new
    variables are appended. Raises ``ConfigError`` (one line) if the folder is not writable.
    """
    path = Path(path)
    try:
        old = path.read_bytes() if path.exists() else None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}")
    text = old.decode("utf-8") if old is not None else ""
    pending = dict(values)
    lines: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        name = match.group(1) if match else None
        if name in values:
            if name in pending:
                lines.append(_format(name, pending.pop(name)))
            continue  # a duplicate of a variable we already wrote
        lines.append(line)
    lines.extend(_format(name, value) for name, value in pending.items())
    saved = None
    try:
        if old is not None and backup:
            saved = backup_path(path)
            write_private(saved, old)
        write_private(path, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}")
    return saved


# -- keeping .env out of git ------------------------------------------------------------------


def git_work_tree(path: str | Path) -> Path | None:
    """The root of the git work tree holding ``path`` (a ``.git`` folder or file above it), if any."""
    folder = Path(path).absolute().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git(root: Path, *args: str) -> int | None:
    """``git -C root args`` exit status; ``None`` when git cannot be run."""
    import subprocess

    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=20).returncode
    except (OSError, subprocess.SubprocessError):
        return None


def git_tracks(path: str | Path) -> bool:
    """True when ``path`` is committed or staged in its git work tree (its contents are in git)."""
    root = git_work_tree(path)
    return root is not None and _git(root, "ls-files", "--error-unmatch", "--", str(Path(path).absolute())) == 0


def git_ignores(path: str | Path) -> bool:
    """True when git ignores ``path`` (its .gitignore files or excludes cover it)."""
    root = git_work_tree(path)
    return root is not None and _git(root, "check-ignore", "-q", "--no-index", "--", str(Path(path).absolute())) == 0


def ignore_in_git(path: str | Path) -> str | None:
    """Make sure git ignores the .env at ``path`` (and its .bak); returns what was added, or ``None``.

    Outside a git work tree, or when ``.gitignore`` (or any exclude file) already covers it,
    nothing is written. The line is anchored at the work tree's root (``/sub/.env``).
    """
    path = Path(path).absolute()
    root = git_work_tree(path)
    if root is None:
        return None
    rel = path.relative_to(root).as_posix()
    wanted = [f"/{rel}", f"/{rel}.bak"]
    gitignore = root / ".gitignore"
    text = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    missing = []
    for line, target in zip(wanted, (path, path.with_name(path.name + ".bak"))):
        ignored = _git(root, "check-ignore", "-q", "--no-index", "--", str(target))
        if ignored == 0 or (ignored is None and line in text.splitlines()):
            continue
        missing.append(line)
    if not missing:
        return None
    header = "# credentials: never commit (added by drumscribe)"
    block = ("" if not text or text.endswith("\n") else "\n") + ("" if header in text else header + "\n") + "".join(f"{m}\n" for m in missing)
    tmp = gitignore.with_name(f".gitignore.{os.getpid()}.tmp")
    tmp.write_text(text + block, encoding="utf-8")
    os.replace(tmp, gitignore)
    return f"{', '.join(missing)} added to {gitignore}"
