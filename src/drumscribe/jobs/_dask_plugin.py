"""Imported only when a batch runs on Dask: a worker plugin that gets a worker ready as it joins.

Each worker process loads the model, madmom's processors and its storage client once, when the
batch registers the plugin or when the worker (re)starts, instead of inside its first task; the
tasks then find them in the per-process caches (``pipeline.get_model``, ``batch._worker_context``).
"""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from drumscribe.errors import DrumscribeError


class Preload(WorkerPlugin):
    name = "drumscribe-preload"

    def __init__(self, opts):
        self.opts = opts

    def setup(self, worker) -> None:
        from drumscribe.jobs.tasks import _worker_context
        from drumscribe.transcription import pipeline

        try:
            _worker_context(self.opts)
            pipeline.get_model(self.opts.model)
            pipeline._feature_processor()
            if self.opts.beats:  # the beat DBN's state space takes a while to build: once per worker
                from drumscribe.transcription import beats

                beats._dbn(beats.DBN_FPS)
        except DrumscribeError:
            pass  # e.g. no credentials on this worker: every task will say so for its input
