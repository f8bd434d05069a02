"""Opening hours as grids of 15-minute slots, in each facility's own time zone.

InfluxDB groups readings into 15-minute buckets aligned to the Unix epoch; every time zone in use today is a
whole number of quarter hours from UTC, so those buckets are also local quarter hours. A slot is numbered by
``utc_ns // SLOT_NS`` and belongs to opening hours when its start lies inside an opening period. A period
belongs to the day it starts on, also when it runs past midnight ("18:00-02:00"). Wall-clock times are
converted through the facility's zone, so a day with a DST change has 23 or 25 hours. China's calendar
(analytics.analysis.calendar) changes the hours of some days: a facility closed on statutory holidays has no
opening slots then (so those days are neither idle nor missing data), one open with its weekend hours on them
gets Sunday's slots, and an adjusted working day can get a weekday's. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from analytics.analysis.calendar import NO_CALENDAR, Calendar, DayHours, WeekHours, changed_days
from analytics.analysis.calendar import week_hours as week_hours  # moved to the calendar; engine and rollup use it
from analytics.analysis.model import Window
from sensors.registry import Facility

SLOT_NS = 15 * 60 * 10**9
HOUR_NS = 3600 * 10**9
SLOTS_PER_HOUR = 4
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


def windows(as_of: date, days: int, timezone: str) -> tuple[Window, Window]:
    """The ``days`` whole days before ``as_of`` (excluded), and the same length just before them."""
    if days < 1:
        raise ValueError("a window is at least one day")
    current = Window(as_of - timedelta(days=days), as_of - timedelta(days=1), timezone)
    previous = Window(as_of - timedelta(days=2 * days), as_of - timedelta(days=days + 1), timezone)
    return current, previous


@dataclass(frozen=True, slots=True)
class SlotGrid:
    """Parallel arrays, one entry per opening-hour slot: slot number, local day (ordinal) the period started
    on, local hour key (for hourly peaks), and whether the day is a closure day."""

    slot: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    closed: np.ndarray

    def __len__(self) -> int:
        return len(self.slot)


def _utc_ns(wall: datetime, zone: ZoneInfo) -> int:
    """A naive wall-clock time in ``zone`` as UTC ns; a time skipped by DST uses the offset before the change."""
    offset = wall.replace(tzinfo=zone).utcoffset() or timedelta(0)
    return ((wall - _EPOCH) // _SECOND - offset // _SECOND) * 10**9


def _offset_ns(utc_ns: int, zone: ZoneInfo) -> int:
    moment = datetime.fromtimestamp(utc_ns // 10**9, zone)
    return (moment.utcoffset() or timedelta(0)) // _SECOND * 10**9


def _period_slots(day: date, start_minute: int, minutes: int, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Slot numbers and local hour keys of one opening period."""
    wall_start = datetime(day.year, day.month, day.day) + timedelta(minutes=start_minute)
    start_ns = _utc_ns(wall_start, zone)
    end_ns = _utc_ns(wall_start + timedelta(minutes=minutes), zone)
    slots = np.arange(-(-start_ns // SLOT_NS), -(-end_ns // SLOT_NS), dtype=np.int64)
    first_offset = _offset_ns(start_ns, zone)
    if first_offset == _offset_ns(max(end_ns - 1, start_ns), zone):
        offsets: np.ndarray | int = first_offset
    else:  # the period spans a DST change: look the offset up slot by slot (a few times a year)
        offsets = np.array([_offset_ns(int(s) * SLOT_NS, zone) for s in slots], dtype=np.int64)
    return slots, (slots * SLOT_NS + offsets) // HOUR_NS


def day_changes(facility: Facility, calendar: Calendar, first_day: date,
                last_day: date) -> tuple[tuple[int, DayHours], ...]:
    """(ordinal, hours) of the days whose hours China's calendar changes for this facility (its policies)."""
    return changed_days(week_hours(facility), calendar, facility.holidays, facility.adjusted_workdays, first_day,
                        last_day)


@lru_cache(maxsize=512)
def _template(timezone: str, hours: WeekHours, first: int, last: int,
              changes: tuple[tuple[int, DayHours], ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    zone = ZoneInfo(timezone)
    slot_parts: list[np.ndarray] = []
    day_parts: list[np.ndarray] = []
    hour_parts: list[np.ndarray] = []
    changed = dict(changes)
    for ordinal in range(first, last + 1):
        day = date.fromordinal(ordinal)
        for start_minute, minutes in changed.get(ordinal, hours[day.weekday()]):
            slots, hour = _period_slots(day, start_minute, minutes, zone)
            slot_parts.append(slots)
            hour_parts.append(hour)
            day_parts.append(np.full(len(slots), ordinal, dtype=np.int32))
    if not slot_parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=np.int32), empty
    slot = np.concatenate(slot_parts)
    _, keep = np.unique(slot, return_index=True)  # a DST fold could make two periods share a slot
    keep.sort()
    arrays = (slot[keep], np.concatenate(day_parts)[keep], np.concatenate(hour_parts)[keep])
    for array in arrays:
        array.flags.writeable = False  # shared through the cache
    return arrays


def closure_days(facility: Facility, first_day: date, last_day: date) -> np.ndarray:
    """Ordinals of the days in ``first_day``..``last_day`` on which the facility is closed on purpose."""
    days: set[int] = set()
    for closure in facility.closures:
        start = max(closure.start, first_day).toordinal()
        end = min(closure.end, last_day).toordinal()
        days.update(range(start, end + 1))
    return np.array(sorted(days), dtype=np.int32)


def slot_grid(facility: Facility, first_day: date, last_day: date, calendar: Calendar = NO_CALENDAR) -> SlotGrid:
    """Every opening-hour slot of periods starting on ``first_day``..``last_day`` (local days), closures marked,
    holidays and adjusted working days as ``calendar`` and the facility's policies say."""
    slot, day, hour = _template(facility.timezone, week_hours(facility), first_day.toordinal(), last_day.toordinal(),
                                day_changes(facility, calendar, first_day, last_day))
    closed = np.isin(day, closure_days(facility, first_day, last_day))
    return SlotGrid(slot=slot, day=day, hour=hour, closed=closed)


def slot_runs(slots: np.ndarray, max_gap: int = 2) -> list[tuple[int, int]]:
    """UTC ns ranges [start, end) covering the given slot numbers, bridging gaps of up to ``max_gap`` slots.

    Queries then ask only for opening hours: InfluxDB's cost grows with the rows it returns, and most
    facilities are open for a third to half of the day.
    """
    unique = np.unique(np.asarray(slots, dtype=np.int64))
    if not len(unique):
        return []
    breaks = np.flatnonzero(np.diff(unique) > max_gap + 1)
    starts = np.concatenate(([unique[0]], unique[breaks + 1]))
    ends = np.concatenate((unique[breaks], [unique[-1]])) + 1
    return [(int(a) * SLOT_NS, int(b) * SLOT_NS) for a, b in zip(starts, ends, strict=True)]
