"""Files facmon reads at run time, shipped inside the package so that a normal (non-editable) install has them.

- `facmon.conf`: the Mosquitto settings the ingester relies on. `facmon broker-config` copies them into the
  mosquitto.conf it writes; the local brokers of the tests, the demo and the benchmarks run with the same lines.
- `county.yaml`: the sample county (65 facilities of 缙云县 with a known mix of simulator profiles) that
  `facmon demo` backfills and analyzes.

They are found with importlib.resources, never by walking up from a module's `__file__`: in a wheel there is
no repository around the package. Standard library only, like facmon.demo.localstack, which reads the broker settings.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["mosquitto_conf", "sample_county"]

# Files that as_file() had to extract (only from a zip import) stay until the process exits: the paths are
# handed to child processes (the ingester reads the county) and printed for the user to reuse.
_kept = contextlib.ExitStack()
atexit.register(_kept.close)


@functools.cache
def _path(name: str) -> Path:
    return _kept.enter_context(as_file(files(__name__) / name))


def mosquitto_conf() -> Path:
    """The shipped broker settings (`facmon.conf`), as a file on disk."""
    return _path("facmon.conf")


def sample_county() -> Path:
    """The sample county registry (`county.yaml`), as a file on disk a child process can read too."""
    return _path("county.yaml")
