"""ganzoo/runs/allocator.py: after keep_freed_memory, a block of a forward pass's size comes from the heap instead
of a fresh mmap (whose pages every pass faults in again). Checked in fresh processes, with glibc's own counters."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from ganzoo.runs.allocator import MMAP_THRESHOLD_BYTES, keep_freed_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's; elsewhere a no-op")

PROBE = """
import ctypes, json, sys
from ganzoo.runs.allocator import keep_freed_memory
libc = ctypes.CDLL("libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
before = libc.mallinfo2().hblks
block = libc.malloc(16 * 1024 * 1024)  # the size of a DCGAN layer's output for a few hundred samples
during = libc.mallinfo2().hblks
libc.free(block)
print(json.dumps({"tuned": tuned, "mmapped_blocks_added": during - before}))
"""


def probe(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_forward_pass_sized_block_comes_from_the_heap_once_tuned():
    assert probe("default") == {"tuned": None, "mmapped_blocks_added": 1}  # glibc's default: a fresh mapping
    assert probe("tuned") == {"tuned": True, "mmapped_blocks_added": 0}
    assert MMAP_THRESHOLD_BYTES > 16 * 1024 * 1024


def test_it_reports_whether_the_settings_took_effect():
    assert keep_freed_memory() is True
