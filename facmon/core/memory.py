"""Giving freed memory back to the operating system between the phases of a large run.

glibc's allocator keeps what a process frees for later use, in the arena of the thread that allocated it: after a
province's analysis groups (worker threads) and each integrity check (hundreds of MiB of numpy temporaries), a
gigabyte stayed resident that the process no longer used, and the next phase's temporaries came on top of it.
``malloc_trim(0)`` returns the free pages of every arena. Elsewhere (another C library, another system) this is a
no-op: the figures are then what the allocator keeps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return function


def release_free_memory() -> bool:
    """Return freed heap memory to the operating system; True when the C library could (glibc)."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
