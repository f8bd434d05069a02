"""The silence watch (ingest/silence.py) on a pinned clock: when open facilities send nothing, it says so once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.analysis.calendar_data import package_calendar, parse_calendar
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


# China's calendar: National Day 2025 is 10-01..10-08 (Wednesday to Wednesday); Sunday 09-28 and Saturday 10-11
# are worked in exchange (调休). The chinese-calendar package's dates, as the ingester loads them.
CALENDAR = package_calendar()
WEEKDAYS = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
CHINA = parse_registry({"facilities": [
    {"id": "office", "name": "党群服务中心", "type": "community_center", "region": "a/b", "capacity": 10,
     "opening_hours": WEEKDAYS, "holidays": "closed", "adjusted_workdays": "weekday_hours"},
    {"id": "hall", "name": "文化礼堂", "type": "cultural_hall", "region": "a/b", "capacity": 10,
     "opening_hours": WEEKDAYS, "holidays": "closed"},
    {"id": "gym", "name": "全民健身中心", "type": "sports_hall", "region": "a/b", "capacity": 10,
     "opening_hours": {**WEEKDAYS, "sat": ["09:00-17:00"], "sun": ["09:00-17:00"]}},
    {"id": "bar", "name": "夜间书房", "type": "library", "region": "a/b", "capacity": 10,
     "opening_hours": {"tue": ["22:00-02:00"]}, "holidays": "closed"},
]})
OFFICE, HALL, GYM_CN, BAR = CHINA.facilities


@pytest.mark.parametrize(("facility", "when", "by_week", "by_calendar"), [
    (OFFICE, "2025-10-01 10:00", True, False),  # a Wednesday, National Day: closed on holidays
    (HALL, "2025-10-06 10:00", True, False),  # a Monday, Mid-autumn within the holiday
    (GYM_CN, "2025-10-01 10:00", True, True),  # open on holidays as usual
    (OFFICE, "2025-09-28 10:00", False, True),  # a Sunday worked in exchange: a weekday's hours
    (HALL, "2025-09-28 10:00", False, False),  # no policy for adjusted working days: its Sunday, closed
    (OFFICE, "2025-10-09 10:00", True, True),  # an ordinary Thursday after the holiday
    (BAR, "2025-10-01 01:00", True, True),  # Tuesday 09-30's period past midnight, into the holiday
    (BAR, "2025-10-07 23:00", True, False),  # Tuesday 10-07 is a holiday: its period does not start
    (BAR, "2025-10-08 01:00", True, False),
])
def test_is_open_follows_chinas_calendar(facility, when, by_week, by_calendar) -> None:
    assert is_open(facility, at(when)) is by_week
    assert is_open(facility, at(when), CALENDAR) is by_calendar


def test_on_national_day_the_facilities_closed_for_the_holiday_are_not_expected() -> None:
    """10:00 on 2025-10-02: only the gym is open. It delivers, so nothing is wrong; by the weekly hours alone, the
    two closed facilities would count as silent and raise a false alarm."""
    clock = Clock(at("2025-10-02 09:30"))
    watch = SilenceWatch(CHINA.facilities, 1800, 0.5, clock, CALENDAR)
    by_week = SilenceWatch(CHINA.facilities, 1800, 0.5, clock)
    clock.t = at("2025-10-02 10:00")
    for each in (watch, by_week):
        each.heard(["gym"])
    assert watch.check() is None
    assert not watch.silent
    change = by_week.check()
    assert change is not None
    assert (change.silent, change.expected, change.heard) == (True, 3, 1)
    clock.t = at("2025-10-02 10:31")  # the gym's reading is older than the window now
    change = watch.check()
    assert change is not None
    assert (change.silent, change.expected, change.heard) == (True, 1, 0)
    assert "only 0 of the 1 facilities open throughout the last 30 min" in change.message()


def test_on_an_adjusted_working_day_weekday_hours_make_a_facility_expected() -> None:
    """10:00 on Saturday 2025-10-11, worked in exchange for National Day: the office keeps a weekday's hours, so
    it is expected beside the gym; the hall (no policy) keeps its Saturday, closed."""
    clock = Clock(at("2025-10-11 09:30"))
    watch = SilenceWatch(CHINA.facilities, 1800, 0.5, clock, CALENDAR)
    by_week = SilenceWatch(CHINA.facilities, 1800, 0.5, clock)
    clock.t = at("2025-10-11 10:00")
    changes = [watch.check(), by_week.check()]
    assert [(c.silent, c.expected, c.heard) for c in changes if c is not None] == [(True, 2, 0), (True, 1, 0)]


def test_a_local_holiday_from_the_calendar_file_counts_too() -> None:
    local = parse_calendar({"holidays": [{"date": "2025-10-15", "name": "县庆日"}]}, CALENDAR)
    assert not is_open(HALL, at("2025-10-15 10:00"), local)
    assert is_open(HALL, at("2025-10-15 10:00"), CALENDAR)
