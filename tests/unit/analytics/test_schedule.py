"""Opening-hour slot grids: local time zones, periods past midnight, DST days, closures, windows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from analytics.analysis.model import Window
from analytics.analysis.schedule import SLOT_NS, slot_grid, slot_runs, windows
from tests.unit.analytics.helpers import facility, local_ns, slot_of

MON = date(2025, 10, 6)
FRI = date(2025, 10, 10)
SAT = date(2025, 10, 11)


def test_windows_are_whole_days_before_as_of_and_the_same_length_before_that():
    current, previous = windows(date(2025, 11, 3), 28, "Asia/Shanghai")
    assert current == Window(date(2025, 10, 6), date(2025, 11, 2), "Asia/Shanghai")
    assert previous == Window(date(2025, 9, 8), date(2025, 10, 5), "Asia/Shanghai")
    assert current.days == previous.days == 28
    with pytest.raises(ValueError, match="at least one day"):
        windows(date(2025, 11, 3), 0, "UTC")


def test_slots_follow_local_time_not_utc():
    grid = slot_grid(facility(opening_hours={"mon": ["09:00-17:00"]}), MON, MON)
    assert len(grid) == 32
    assert grid.slot[0] * SLOT_NS == local_ns(MON, 9)  # 01:00 UTC
    assert grid.slot[-1] == slot_of(MON, 16, 45)
    assert set(grid.day.tolist()) == {MON.toordinal()}
    assert not grid.closed.any()


def test_a_period_past_midnight_belongs_to_the_day_it_starts_on():
    f = facility(opening_hours={"fri": ["18:00-02:00"], "sat": ["09:00-12:00"]})
    grid = slot_grid(f, FRI, SAT)
    friday = grid.slot[grid.day == FRI.toordinal()]
    assert len(friday) == 32
    assert friday[-1] == slot_of(SAT, 1, 45)  # Saturday 01:45 local still counts for Friday
    assert (grid.day == SAT.toordinal()).sum() == 12
    # A grid ending on Friday still holds the hours after midnight; one starting Saturday does not.
    assert len(slot_grid(f, FRI, FRI)) == 32
    assert len(slot_grid(f, SAT, SAT)) == 12


def test_hours_not_on_quarter_hours_count_slots_starting_inside_them():
    grid = slot_grid(facility(opening_hours={"mon": ["09:10-10:00"]}), MON, MON)
    assert grid.slot.tolist() == [slot_of(MON, 9, 15), slot_of(MON, 9, 30), slot_of(MON, 9, 45)]


@pytest.mark.parametrize(
    ("day", "hours", "slots"),
    [
        (date(2025, 3, 30), "00:00-24:00", 23 * 4),  # spring forward: 02:00-03:00 does not exist
        (date(2025, 10, 26), "00:00-24:00", 25 * 4),  # fall back: 02:00-03:00 happens twice
        (date(2025, 10, 19), "00:00-24:00", 24 * 4),
        (date(2025, 3, 30), "01:00-04:00", 2 * 4),
        (date(2025, 10, 26), "01:00-04:00", 4 * 4),
        (date(2025, 10, 26), "09:00-17:00", 8 * 4),
    ],
)
def test_dst_days_have_the_hours_the_clock_shows(day, hours, slots):
    f = facility(timezone="Europe/Berlin", opening_hours={"sun": [hours]})
    grid = slot_grid(f, day, day)
    assert len(grid) == slots
    assert len(np.unique(grid.slot)) == slots


def test_local_hour_keys_follow_the_wall_clock_across_a_dst_change():
    f = facility(timezone="Europe/Berlin", opening_hours={"sun": ["00:00-24:00"]})
    grid = slot_grid(f, date(2025, 3, 30), date(2025, 3, 30))
    hours = np.unique(grid.hour)
    assert len(hours) == 23  # 02:00 local never happened
    assert all(np.count_nonzero(grid.hour == h) == 4 for h in hours)


def test_a_four_week_window_in_berlin_counts_the_25_hour_sunday():
    f = facility(timezone="Europe/Berlin", opening_hours={"sun": ["00:00-24:00"]})
    current, _ = windows(date(2025, 11, 3), 28, f.timezone)
    grid = slot_grid(f, current.first_day, current.last_day)
    assert len(grid) / 4 == 24 + 24 + 25 + 24


def test_closure_days_are_marked_not_dropped():
    f = facility(opening_hours={"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]},
                 closures=[{"from": "2025-10-07", "to": "2025-10-20", "reason": "repairs"}])
    grid = slot_grid(f, MON, date(2025, 10, 14))
    closed_days = {int(d) for d in np.unique(grid.day[grid.closed])}
    assert closed_days == {date(2025, 10, 7).toordinal(), date(2025, 10, 13).toordinal(),
                           date(2025, 10, 14).toordinal()}
    assert grid.closed.sum() == 3 * 32
    assert (~grid.closed).sum() == 32


def test_a_facility_closed_every_day_has_an_empty_grid():
    grid = slot_grid(facility(opening_hours={}), MON, SAT)
    assert len(grid) == 0


def test_slot_runs_cover_the_slots_and_bridge_small_gaps():
    slots = np.array([10, 11, 12, 14, 15, 30, 31])
    assert slot_runs(slots, max_gap=1) == [(10 * SLOT_NS, 16 * SLOT_NS), (30 * SLOT_NS, 32 * SLOT_NS)]
    assert slot_runs(slots, max_gap=0) == [
        (10 * SLOT_NS, 13 * SLOT_NS), (14 * SLOT_NS, 16 * SLOT_NS), (30 * SLOT_NS, 32 * SLOT_NS)
    ]
    assert slot_runs(np.array([], dtype=np.int64)) == []
