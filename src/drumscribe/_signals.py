"""Signals that wait for a block of code to finish (a write that must be recorded, a line that must be whole)."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def deferred(signum: int) -> Iterator[None]:
    """A ``signum`` that comes during the block acts when the block ends, as if it came then.

    Main thread only (elsewhere the block runs as it is). A handler, not a signal mask: Python runs
    every handler in the main thread whichever thread the signal reached (a job has others: the
    FLAC encoder, multiprocessing's), so a mask on one thread would not hold it back. When the
    block ends the previous handler acts: SIGINT's raises KeyboardInterrupt, SIGTERM's default ends
    the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signum, lambda number, frame: came.append(number))
    try:
        yield
    finally:
        signal.signal(signum, previous)
        if came:
            signal.raise_signal(signum)
