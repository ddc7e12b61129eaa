"""Keep freed memory for reuse in a process that transcribes (glibc only; elsewhere nothing happens).

A transcription allocates and frees the same large numpy arrays chunk after chunk (frames,
spectra, each layer's output). With glibc's defaults a freed block of more than 128 KB (the
threshold then adapts) goes back to the kernel, by ``munmap`` or by trimming the heap, and the
next chunk's array faults every page of it in again: measured on four songs, about 32,000 page
faults and 0.1-0.3 s of system CPU out of 1.9 s. Serving blocks up to 32 MB from the heap and
trimming it only past 64 MB free leaves about 21,000 faults and 0.1 s, the same peak memory.

Called by drumscribe's own processes (``drumscribe transcribe``, its worker processes), never on
import: in someone else's program the allocator is theirs to tune.
"""

from __future__ import annotations

import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for this process; False where there is no glibc ``mallopt``."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
