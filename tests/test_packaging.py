"""Project-wide rules that are easy to break by accident."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import drumscribe

SRC = Path(drumscribe.__file__).parent
REPO = SRC.parent.parent


def test_madmom_is_imported_only_through_the_shim():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "_madmom.py":
            continue
        for line in path.read_text().splitlines():
            # "import madmom.x" after the shim ran is fine (the shim already imported the package);
            # the first import must come from drumscribe._madmom.
            if re.match(r"\s*(import madmom\b|from madmom\b)", line):
                text = path.read_text()
                if "from drumscribe._madmom import madmom" not in text:
                    offenders.append(f"{path.relative_to(SRC)}: {line.strip()}")
    assert offenders == []


def test_shim_imports_madmom_and_restores_importlib():
    before = importlib.metadata.distribution
    from drumscribe._madmom import madmom

    assert madmom.__version__.startswith("0.17")
    assert importlib.metadata.distribution is before
    import madmom.ml.nn  # noqa: F401  (submodules import normally once the shim has run)


def test_import_drumscribe_is_cheap_and_lazy():
    # The CLI starts fast because nothing heavy is imported until a command needs it.
    code = "import sys, drumscribe; print(sorted(m for m in ('madmom','numpy','boto3','torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_public_name_resolves():
    missing = []
    for name in drumscribe.__all__:
        try:
            getattr(drumscribe, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert missing == []


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    ci = (REPO / ".ci" / "run").read_text()
    assert len(block) == 2
    for command in block:
        assert command in ci, f"README command not run by CI: {command}"


def test_python_m_drumscribe_version():
    result = subprocess.run([sys.executable, "-m", "drumscribe", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"drumscribe {drumscribe.__version__}"


def test_click_is_not_imported_directly():
    # typer vendors its own click and does not depend on PyPI's: a plain `pip install drumscribe`
    # has no `click` module (moto[server] in the test extra brings one, which hid this once).
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if re.search(r"^\s*(import click\b|from click\b)", p.read_text(), re.M)]
    assert offenders == []


def test_drumscribe_doctor_stays_callable_after_its_submodules_are_imported():
    # doctor is a package (doctor/checks.py, security.py...); importing one of its rooms binds the
    # package to drumscribe.doctor, which must still be the documented function.
    code = ("import drumscribe.doctor.security, drumscribe; from drumscribe import doctor; "
            "r = drumscribe.doctor(prefer_local=True); print(r.backend, doctor(prefer_local=True).backend, drumscribe.doctor is doctor)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["local", "local", "True"], result.stderr
