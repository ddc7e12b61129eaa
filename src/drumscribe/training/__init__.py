"""Training of the drum model on synthesized audio (needs the ``train`` extra: torch).

``render`` (Hydrogen-kit sampler, fluidsynth, grooves, augmentation) -> ``dataset`` (clips +
features + onset labels on disk) -> ``train`` (PyTorch) -> ``export`` (numpy weights the
package runs through ``madmom.ml.nn``). Torch is imported only in ``train``/``export``.
"""
