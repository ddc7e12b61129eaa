"""The dependency lock: what the README's set-up command installs, so a fresh clone is green on any day.

`requirements/test.lock` pins every package (with hashes) that `pip install ".[test]"` would
resolve; these tests keep it from drifting away from `pyproject.toml` (docs/dependencies.md).
"""

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "test.lock"


def locked() -> dict[str, list[tuple[Version, str, int]]]:
    """name -> [(version, environment marker, number of hashes)], from the lock's entries."""
    text = LOCK.read_text()
    pins: dict[str, list[tuple[Version, str, int]]] = {}
    # an entry: "name==version [; marker] \" then its "--hash=sha256:..." lines
    for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+?)(?:\s*;\s*([^\\\n]+?))?\s*\\\n((?:\s+--hash=sha256:[0-9a-f]{64}\s*\\?\n?)+)",
                         text, re.M):
        name, version, marker, hashes = m.groups()
        pins.setdefault(canonicalize_name(name), []).append((Version(version), (marker or "").strip(),
                                                              hashes.count("--hash=")))
    return pins


def project_requirements() -> list[Requirement]:
    """The runtime dependencies and the test extra, with the project's own extras expanded."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs, todo, seen = [Requirement(r) for r in project["dependencies"]], ["test"], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in extras[extra]:
            r = Requirement(line)
            if canonicalize_name(r.name) == "drumscribe":
                todo.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


def test_every_locked_package_is_pinned_with_hashes():
    pins = locked()
    assert len(pins) > 50  # the whole set, not only the direct dependencies
    unhashed = [name for name, entries in pins.items() for _, _, n in entries if n == 0]
    assert unhashed == []
    # nothing in the lock is left unpinned (a bare name or a range would resolve anew each day)
    entries = [l for l in LOCK.read_text().splitlines() if l and not l.startswith((" ", "#"))]
    assert all("==" in l for l in entries), [l for l in entries if "==" not in l]


def test_the_lock_satisfies_pyproject():
    """Every direct requirement of the test set is locked at a version its range allows.

    Fails after a range in pyproject.toml changes until the lock is renewed
    (`scripts/upgrade-lock PACKAGE`)."""
    pins, env = locked(), default_environment()
    problems = []
    for req in project_requirements():
        entries = pins.get(canonicalize_name(req.name))
        if not entries:
            problems.append(f"{req.name}: not in the lock")
            continue
        for version, marker, _ in entries:
            if version not in req.specifier:
                problems.append(f"{req.name}=={version} ({marker or 'all'}) is outside {req.specifier}")
        # and the version this interpreter would install is there
        from packaging.markers import Marker
        if not any(not m or Marker(m).evaluate(env) for _, m, _ in entries):
            problems.append(f"{req.name}: no entry for this Python")
    assert problems == []


def test_moto_stays_between_the_releases_known_to_break_the_suite():
    # 5.2.6 authorises ListObjectsV2/HeadBucket as "s3:ListObjectsV2" (AWS: s3:ListBucket) and refuses
    # the app key's correct policy; 5.1.x writes multipart checksums botocore 1.41+ rejects
    # (docs/dependencies.md, "What broke")
    (moto,) = [r for r in project_requirements() if r.name == "moto"]
    assert not moto.specifier.contains("5.2.6") and not moto.specifier.contains("5.1.22")
    assert all(Version("5.2") <= v < Version("5.2.6") for v, _, _ in locked()["moto"])


def test_the_readme_installs_the_lock():
    readme = (REPO / "README.md").read_text()
    setup = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()[0]
    assert "--require-hashes -r requirements/test.lock" in setup
    assert "--no-deps -e ." in setup  # drumscribe itself, without resolving anything anew
