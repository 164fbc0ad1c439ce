"""How the sweep processes' C allocator keeps freed memory (glibc only; a no-op elsewhere).

A chunk of a sweep allocates and frees the same large numpy temporaries over and over (~20 MB
per block of a 10 M-point ResNet-50 sweep). glibc serves an allocation above its *mmap
threshold* (128 KiB at start, raised as large blocks are freed, up to 32 MiB) with a fresh
mapping, and hands the top of its heap back to the OS once more than its *trim threshold*
(twice the mmap threshold) is free there. Whether the temporaries then cost page faults on
every chunk depended on history: after a large table was built and freed, no faults; in a
``--jobs`` worker that had built only part of it, ~4,700 page faults per block (0.25 s of
system time per process, blocks 30% slower; measured with ``getrusage`` in each process).
:func:`keep_freed_memory` fixes both thresholds at the values a warm process reaches, so
every sweep process, serial or parallel, reuses its freed memory the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: allocations up to this size come from the heap (glibc's largest dynamic mmap threshold)
MMAP_THRESHOLD_BYTES = 32 << 20
#: free memory kept at the top of the heap before it is handed back to the OS
TRIM_THRESHOLD_BYTES = 64 << 20

_done = False


def keep_freed_memory() -> None:
    """Fix glibc's mmap and trim thresholds for this process (once; nothing on other C
    libraries). Process-wide: memory freed later stays with the process up to
    :data:`TRIM_THRESHOLD_BYTES`."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
