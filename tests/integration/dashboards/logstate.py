"""facmon's CLI points the root logger at the sys.stderr of the moment (facmon.logs.configure); run in-process
under pytest, that is a capture stream closed after the test. kept_logging() starts from no root handler (an
earlier test's may write to a closed stream) and puts the previous set-up back afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

OURS = ("facmon", "ingest", "sensors", "analytics", "dashboards")


@contextmanager
def kept_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in OURS}
    root.handlers[:] = []
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
