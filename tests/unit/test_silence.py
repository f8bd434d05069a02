"""The silence watch (ingest/silence.py) on a pinned clock: when open facilities send nothing, it says so once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.silence import SilenceWatch, is_open
from sensors.registry import parse_registry

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTRY = parse_registry({"facilities": [
    {"id": "lib", "name": "L", "type": "library", "region": "a/b", "capacity": 10,
     "opening_hours": {"mon": ["09:00-17:00"], "tue": ["22:00-02:00"]},
     "closures": [{"from": "2025-12-08", "to": "2025-12-08", "reason": "repairs"}]},
    {"id": "gym", "name": "G", "type": "gym", "region": "a/b", "capacity": 10,
     "opening_hours": {"mon": ["08:00-18:00"]}},
    {"id": "night", "name": "N", "type": "gym", "region": "a/c", "capacity": 10,
     "opening_hours": {"sun": ["20:00-23:00"]}},
]})
LIB, GYM, NIGHT = REGISTRY.facilities


def at(text: str) -> float:
    """Epoch seconds of a Shanghai wall time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


@pytest.mark.parametrize(("when", "expected"), [
    ("2025-12-01 09:00", True),   # Monday, opening minute
    ("2025-12-01 16:59", True),
    ("2025-12-01 17:00", False),  # closing minute is closed
    ("2025-12-02 23:30", True),   # Tuesday's period past midnight ...
    ("2025-12-03 01:59", True),   # ... into Wednesday
    ("2025-12-03 02:00", False),
    ("2025-12-08 10:00", False),  # a Monday that is a closure day
])
def test_is_open_follows_hours_overnight_periods_and_closures(when: str, expected: bool) -> None:
    assert is_open(LIB, at(when)) is expected


class Clock:
    def __init__(self, start: float) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


def test_silence_is_raised_once_after_a_whole_window_and_ends_when_readings_return() -> None:
    clock = Clock(at("2025-12-01 10:00"))  # Monday: lib and gym open, night closed
    watch = SilenceWatch(REGISTRY.facilities, 1800, 0.25, clock)
    clock.t += 1799
    assert watch.check() is None  # not a whole window watched yet
    clock.t += 1
    change = watch.check()
    assert change is not None
    assert (change.silent, change.expected, change.heard) == (True, 2, 0)
    assert "only 0 of the 2 facilities open throughout the last 30 min" in change.message()
    clock.t += 60
    assert watch.check() is None  # said once
    assert (watch.silent, watch.alerts) == (True, 1)
    watch.heard(["gym"])
    change = watch.check()
    assert change is not None
    assert (change.silent, change.heard) == (False, 1)
    assert watch.alerts == 1


def test_facilities_heard_within_the_window_keep_it_quiet_and_closed_ones_are_not_expected() -> None:
    clock = Clock(at("2025-12-01 10:00"))
    watch = SilenceWatch(REGISTRY.facilities, 1800, 0.25, clock)
    watch.heard(["lib"])
    clock.t += 1800
    assert watch.check() is None
    clock.t += 1  # lib's reading is now older than the window
    assert watch.check() is not None
    assert watch.silent
    clock.t = at("2025-12-01 20:00")  # everything closed: no evidence either way, the state stays
    assert watch.check() is None
    assert watch.silent


def test_far_fewer_than_the_share_is_silence_too() -> None:
    many = parse_registry({"facilities": [
        {"id": f"f{i}", "name": "F", "type": "library", "region": "a/b", "capacity": 10,
         "opening_hours": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
        for i in range(8)
    ]})
    clock = Clock(0.0)
    watch = SilenceWatch(many.facilities, 600, 0.25, clock)
    watch.heard(["f0"])
    clock.t = 600
    change = watch.check()
    assert change is not None
    assert (change.silent, change.expected, change.heard) == (True, 8, 1)
    watch.heard(["f1"])
    change = watch.check()
    assert change is not None
    assert not change.silent
