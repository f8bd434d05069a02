"""Logging state kept across a test: facmon's CLI, run in-process, configures the root logger (facmon.core.logs), and
that must not leak into the next test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from facmon.core.logs import LOGGERS


@contextmanager
def kept_logging(clear: bool = False) -> Iterator[None]:
    """Put the root logger's handlers and level, and facmon's loggers' levels, back afterwards; `clear` starts
    from no root handler."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    if clear:
        root.handlers[:] = []
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
