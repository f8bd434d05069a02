"""facmon.core.logs: logging set-up that does not outlive the stream it started on, and can be repeated and undone."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from facmon.core import logs


def log_from_a_thread(name: str, message: str) -> None:
    thread = threading.Thread(target=logging.getLogger(name).warning, args=(message,))
    thread.start()
    thread.join()


def test_lines_go_to_the_stderr_of_the_moment_after_the_first_one_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest captures stderr per test and closes the capture afterwards; an ingester thread of a later test that
    logs must not hit the closed stream (--- Logging error --- ValueError: I/O operation on closed file)."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logs.configure("INFO")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log_from_a_thread("ingest.pipeline", "written 5 readings")
    text = second.getvalue()
    assert "Logging error" not in text
    assert text.endswith("WARNING ingest.pipeline: written 5 readings\n")


def test_configure_twice_keeps_one_handler_and_reset_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    logs.configure("INFO")
    logs.configure("DEBUG")
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logs.CurrentStderrHandler)]
    assert len(ours) == 1
    assert foreign in logging.getLogger().handlers  # pytest's capture handlers, say, stay
    assert logging.getLogger("analytics").level == logging.DEBUG
    logging.getLogger("analytics.analysis.engine").debug("once")
    assert sys.stderr.getvalue().count("once") == 1
    logs.reset()
    assert not any(isinstance(h, logs.CurrentStderrHandler) for h in logging.getLogger().handlers)
    assert logging.getLogger("analytics").level == logging.NOTSET

