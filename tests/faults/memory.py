"""Sampling a process's resident memory (VmRSS, VmHWM from /proc) in the background while a fault plays out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.integration.ingester import IngesterProcess


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since sampling started
    rss_kib: int
    hwm_kib: int
    published: int  # messages the broker had acknowledged to the publisher by then


@dataclass
class MemorySampler:
    """Samples the ingester's memory every `interval` seconds, with how much had been published by then."""

    process: IngesterProcess
    published: Callable[[], int]
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def now(self) -> float:
        return time.monotonic() - self._start

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                memory = self.process.memory_kib()
            except (AssertionError, OSError):
                return  # the process is gone; the test says why
            self.samples.append(Sample(self.now(), memory["VmRSS"], memory["VmHWM"], self.published()))
            self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.t <= end]


def mib(kib: float) -> float:
    return kib / 1024
