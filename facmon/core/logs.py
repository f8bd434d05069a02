"""Logging set-up: one line per event on stderr, facmon's own loggers only.

The handler writes to ``sys.stderr`` as it is when a line is logged, not as it was at set-up: run in-process
(tests, an embedding program), the stream of the moment may be replaced and closed later, and a handler bound to it
would fail in every thread that logs afterwards. ``configure`` may be called again (one handler, the new level) and
``reset`` undoes it.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGERS = ("facmon", "ingest", "sensors", "analytics", "dashboards")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler whose stream is whatever ``sys.stderr`` is at each record."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """StreamHandler's own set-up assigns a stream; the one used is always the current sys.stderr."""


def configure(level: str = "INFO") -> None:
    """Log facmon's loggers at ``level`` (others at WARNING) to stderr; calling it again replaces the level only."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, CurrentStderrHandler)]
    root.addHandler(CurrentStderrHandler())
    root.setLevel(logging.WARNING)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(level)


def reset() -> None:
    """Undo ``configure``: no facmon handler, facmon's loggers back to inheriting the root's level."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, CurrentStderrHandler)]
    root.setLevel(logging.WARNING)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
