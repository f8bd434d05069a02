"""Stopping on a signal must not deadlock the main thread that is waiting on the stop event."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A child process, so a deadlock fails this test instead of hanging the run: the main thread spins on
# stop.wait(0) (inside the event's lock most of the time) while signals arrive at varying moments.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from facmon.cli.common import set_from_signal_handler
    direct = sys.argv[1] == "direct"
    for trial in range(2000 if direct else 300):
        stop = threading.Event()
        naive = lambda s, f: stop.set()
        safe = lambda s, f: set_from_signal_handler(stop)
        signal.signal(signal.SIGUSR1, naive if direct else safe)
        threading.Timer(0.0005 * (trial % 7), os.kill, (os.getpid(), signal.SIGUSR1)).start()
        while not stop.wait(0):
            pass
    print("stopped every time")
    """
)


def run_child(mode: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -1, "", "timed out: deadlocked")


def test_setting_the_stop_event_from_a_signal_handler_never_deadlocks() -> None:
    result = run_child("helper", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stopped every time" in result.stdout


def test_the_naive_handler_does_deadlock_so_the_test_above_can_fail() -> None:
    result = run_child("direct", timeout=8)
    assert result.returncode != 0
