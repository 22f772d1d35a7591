"""Keeping freed memory for the next forward pass: glibc's allocator tuned for a process that samples over and over.

A forward pass on the CPU allocates its activations afresh each time (a DCGAN's 64 samples: a few MiB per layer)
and frees them at the end. glibc serves blocks that large with ``mmap`` and gives them back with ``munmap``, or
trims the top of its heap when freed memory there passes a threshold, so the next pass faults every page in again
and the kernel zeroes it. In a process that has only ever sampled (``ganzoo serve``), that is about 45 % of the
pass: 64 samples of a width-64 DCGAN took 18.5 ms on one thread, 10.4 ms with the settings below (AMD EPYC,
2026-12; a process that trained first had raised glibc's adaptive threshold already and sampled at 10-11 ms). The
PyTorch CPU performance guide recommends the same cure (a caching allocator, jemalloc or tcmalloc, or these glibc
settings).

:func:`keep_freed_memory` sets ``M_MMAP_THRESHOLD`` to 32 MiB (glibc's upper limit on 64-bit machines: blocks up
to that size come from the heap) and ``M_TRIM_THRESHOLD`` to 64 MiB (the heap keeps up to that much freed memory
instead of returning it at once). The cost is freed memory held between passes, bounded by the trim threshold per
allocator arena (glibc keeps one per thread that allocates, up to 8 per core), not growing with the load
(``benchmarks/bench_serve.py --soak`` prints the server's RSS over ten minutes of load). Elsewhere than glibc
(macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc: mallopt refuses more
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tune glibc's allocator for repeated forward passes (see the module's text). True if the settings took
    effect, False where the C library is not glibc or refused them."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_set = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1  # mallopt returns 1 on success
    trim_set = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return mmap_set and trim_set
