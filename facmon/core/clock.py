"""facmon's one clock: where the simulator, the demo, the ingester and the analytics read "now" and "today".

In production it is the machine's clock. ``FACMON_NOW`` (or a command's ``--now``) pins it to an instant, for tests
and for reproducing a run: the clock starts at that instant and runs on at the machine's pace from the moment the
process first reads it, so waits, live mode and timeouts behave as usual, while "until now", "today" and "the
days before today" get the same answer whatever the real date, hour, weekday or time zone. Every process of one
run (simulator, ingester, analyze) must be given the same instant, so that readings are neither "too old" nor "in
the future" to the ingester.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

_NS = 1_000_000_000


class Clock:
    """A source of the current instant; ``time_ns`` is the one thing a clock must give."""

    def time_ns(self) -> int:
        raise NotImplementedError

    def time(self) -> float:
        """Seconds since the epoch, like ``time.time()``."""
        return self.time_ns() / _NS

    def now(self) -> datetime:
        """The current instant, in UTC."""
        ns = self.time_ns()
        return datetime.fromtimestamp(ns // _NS, UTC).replace(microsecond=ns % _NS // 1000)

    def today(self, zone: str | tzinfo | None = None) -> date:
        """The date now in ``zone`` (an IANA name or a tzinfo); None is the machine's local zone."""
        moment = self.now()
        if zone is None:
            return moment.astimezone().date()
        return moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).date()


class SystemClock(Clock):
    """The machine's clock: production's default."""

    def time_ns(self) -> int:
        return time.time_ns()

    def __repr__(self) -> str:
        return "SystemClock()"


class PinnedClock(Clock):
    """A clock that reads ``at`` when first asked, then runs on at the machine's pace (``frozen``: stays at ``at``)."""

    def __init__(self, at: datetime, frozen: bool = False) -> None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a pinned instant needs its UTC offset (e.g. 2026-12-01T16:30:00Z or +08:00)")
        self.at = at
        self.frozen = frozen
        self._at_ns = int(at.timestamp()) * _NS + at.microsecond * 1000
        self._origin_ns: int | None = None

    def time_ns(self) -> int:
        if self.frozen:
            return self._at_ns
        tick = time.monotonic_ns()
        if self._origin_ns is None:
            self._origin_ns = tick
        return self._at_ns + tick - self._origin_ns

    def __repr__(self) -> str:
        return f"PinnedClock({self.at.isoformat()}{', frozen' if self.frozen else ''})"


SYSTEM = SystemClock()


def parse_instant(value: object) -> datetime:
    """An ISO 8601 instant with its offset (``2026-12-01T16:30:00Z``, ``2026-12-02T00:30+08:00``); an instant
    without one would be read in the machine's zone, which is what pinning the clock is there to avoid."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError("must be an ISO 8601 instant with its offset, like 2026-12-01T16:30:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must give its UTC offset (Z or +08:00): without one it would depend on the machine's zone")
    return moment


_PINNED: dict[datetime, PinnedClock] = {}


def clock_at(instant: datetime | None) -> Clock:
    """The machine's clock, or the one pinned at ``instant``: one per instant in a process, so every part of it
    (settings loaded twice, a thread) reads the same running clock and its times never go back."""
    if instant is None:
        return SYSTEM
    return _PINNED.setdefault(instant, PinnedClock(instant))
