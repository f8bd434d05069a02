"""Logging set-up: one line per event on stderr, facmon's own loggers only."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("facmon", "ingest", "sensors", "analytics", "dashboards"):
        logging.getLogger(name).setLevel(level)
