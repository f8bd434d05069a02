"""Run a job on a fixed interval until told to stop; a failed run is logged and retried, never fatal."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_every(
    job: Callable[[], object],
    every: float,
    stop: threading.Event,
    retry: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, int]:
    """Run ``job`` now and then ``every`` seconds after each successful start, until ``stop`` is set.

    A failure is retried after ``retry`` seconds, doubling up to ``every`` while failures go on; a stop request
    interrupts the wait at once (a run in progress is finished first). Returns (successes, failures).
    """
    if every <= 0 or retry <= 0:
        raise ValueError("intervals must be positive")
    successes = failures = 0
    backoff = retry
    while not stop.is_set():
        started = clock()
        try:
            job()
        except Exception:
            failures += 1
            wait = min(backoff, every)
            backoff = min(backoff * 2, every)
            log.exception("run failed; retrying in %.0f s", wait)
        else:
            successes += 1
            backoff = retry
            wait = max(0.0, started + every - clock())
            log.info("next run in %.0f s", wait)
        if stop.wait(wait):
            break
    return successes, failures
