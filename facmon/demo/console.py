"""The demo's console: numbered step lines with their seconds, Ctrl-C and SIGTERM, and whether Docker Compose is
here. Kept apart from facmon.demo.run so that the steps there read as the story of the run."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from facmon.demo.view import step_line


class Steps:
    """Numbered step lines with their seconds; on a terminal the step's title shows while it runs."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.number = total, stream, 0
        self.tty = stream.isatty()
        self.began = time.monotonic()

    def start(self, title: str) -> None:
        self.number += 1
        self.began = time.monotonic()
        self.status(f"{title} …")

    def status(self, text: str) -> None:
        """Redraw the running step's line (terminals only)."""
        if self.tty:
            self.stream.write(f"\r\033[K[{self.number}/{self.total}] {text}")
            self.stream.flush()

    def done(self, text: str) -> None:
        line = step_line(self.number, self.total, text, time.monotonic() - self.began)
        self.stream.write(("\r\033[K" if self.tty else "") + line + "\n")
        self.stream.flush()


@contextlib.contextmanager
def interrupts() -> Iterator[Callable[[], None]]:
    """SIGTERM stops the demo as Ctrl-C does; the function yielded makes both ignored, so that the teardown runs
    to its end; the previous handlers come back afterwards."""
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def shield() -> None:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)

    if main:  # SIGINT too: a shell starts background jobs with it ignored, and the demo must still stop on it
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
    try:
        yield shield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def compose_available() -> bool:
    """Docker with the compose plugin that answers (the engine itself may still be down)."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=10,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
