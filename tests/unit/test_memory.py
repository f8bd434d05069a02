"""release_free_memory gives the heap's free pages back (glibc), which a large run's phases rely on."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import sys
from facmon.core.memory import release_free_memory

def rss_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

# 300 MiB in blocks below glibc's mmap threshold, so they live in the heap; keep every 50th, free the rest:
# the free pages sit between kept blocks, where only malloc_trim gives them back.
blocks = [bytearray(b"x" * 24_000) for _ in range(13_000)]
kept = blocks[::50]
del blocks
before = rss_mib()
released = release_free_memory()
print(released, before, rss_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_free_heap_pages_go_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True).stdout
    released, before, after = out.split()
    assert released == "True", "no malloc_trim: not glibc (facmon's machines are Debian)"
    assert int(before) > 250, out  # the freed blocks were still resident
    assert int(after) < int(before) - 200, out
