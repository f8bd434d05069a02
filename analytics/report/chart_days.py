"""What each day of a chart was: open with data, open without data, or closed. Pure.

An auditor reads a grey "no data" band as a sensor outage; a library open Monday to Friday has no data on
weekends because nobody is meant to be there. So the charts tell the two apart: a day without opening hours in
the registry, or inside one of its closures, is "closed"; an open day without readings is "no data". China's
calendar counts as the analysis counts it (analytics.analysis.schedule.day_changes): a statutory holiday is closed
for a facility that closes on holidays, and an adjusted working day (调休) on a Sunday is open for one that keeps
a weekday's hours then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import Enum

from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.schedule import day_changes
from facmon.core.i18n import N_
from sensors.registry import Facility


class Day(Enum):
    DATA = "data"
    NO_DATA = "no data"
    CLOSED = "closed"


#: The legend's words for the two kinds of day without data (translated where the chart is drawn).
CLOSED_LABEL = N_("closed (no opening hours, a holiday or a closure)")
NO_DATA_LABEL = N_("no data while open")


def closed_days(facility: Facility | None, days: Iterable[date], calendar: Calendar = NO_CALENDAR) -> frozenset[date]:
    """The days the facility is not open at all: no opening hours that day (its week, as China's calendar changes
    it for the facility's policies), or a closure covers it."""
    if facility is None:
        return frozenset()
    wanted = sorted(days)
    if not wanted:
        return frozenset()
    changed = dict(day_changes(facility, calendar, wanted[0], wanted[-1]))
    return frozenset(d for d in wanted
                     if not changed.get(d.toordinal(), facility.hours_on(d.weekday())) or facility.is_closure_day(d))


def day_kinds(days: Sequence[date], values: Sequence[float | None], closed: frozenset[date]) -> list[Day]:
    """Per day: closed wins over missing (nobody was meant to be there); data counts even on a closed day."""
    return [Day.DATA if value is not None else (Day.CLOSED if day in closed else Day.NO_DATA)
            for day, value in zip(days, values, strict=True)]
