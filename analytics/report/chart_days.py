"""What each day of a chart was: open with data, open without data, or closed. Pure.

An auditor reads a grey "no data" band as a sensor outage; a library open Monday to Friday has no data on
weekends because nobody is meant to be there. So the charts tell the two apart: a day without opening hours in
the registry, or inside one of its closures, is "closed"; an open day without readings is "no data".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from enum import Enum

from sensors.registry import Facility


class Day(Enum):
    DATA = "data"
    NO_DATA = "no data"
    CLOSED = "closed"


CLOSED_LABEL = "closed (no opening hours, or a closure)"
NO_DATA_LABEL = "no data while open"


def closed_days(facility: Facility | None, days: Iterable[date]) -> frozenset[date]:
    """The days the facility is not open at all: no opening hours on that weekday, or a closure covers it."""
    if facility is None:
        return frozenset()
    return frozenset(d for d in days if not facility.hours_on(d.weekday()) or facility.is_closure_day(d))


def day_kinds(days: Sequence[date], values: Sequence[float | None], closed: frozenset[date]) -> list[Day]:
    """Per day: closed wins over missing (nobody was meant to be there); data counts even on a closed day."""
    return [Day.DATA if value is not None else (Day.CLOSED if day in closed else Day.NO_DATA)
            for day, value in zip(days, values, strict=True)]
