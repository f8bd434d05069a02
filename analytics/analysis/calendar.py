"""China's working calendar and what it does to a facility's opening hours. Pure: no I/O.

The State Council fixes each year's statutory holidays (法定节假日) and the weekend days worked in exchange
(调休: adjusted working days). A facility whose hours follow the working calendar is then closed, or open with
its weekend hours, on a holiday, and open with a weekday's hours on an adjusted working day; the registry says
which (sensors.registry: ``holidays``, ``adjusted_workdays``, both ``as_usual`` by default, so a registry that
says nothing is analysed by its weekly hours alone). The dates come from the ``chinese-calendar`` package and an
optional calendar file that adds or corrects them (analytics.analysis.calendar_data); this module only says,
for one facility and one day, which hours apply: to the analysis's slot grids (analytics.analysis.schedule) and
to the ingester's silence watch (ingest.silence), which imports it without numpy or pandas.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property

from sensors.registry import Facility, TimeRange

#: ((start minute, length in minutes), ...) of one day.
DayHours = tuple[tuple[int, int], ...]
#: DayHours per weekday, Monday first (week_hours).
WeekHours = tuple[DayHours, ...]

_SAT, _SUN = 5, 6


class DayKind(StrEnum):
    REGULAR = "regular"
    HOLIDAY = "holiday"  # a statutory holiday, also when it falls on a weekend
    WORKDAY = "adjusted_workday"  # a weekend day made a working day (调休)


@dataclass(frozen=True)
class Calendar:
    """Holidays (date -> name) and adjusted working days (date -> name), and the years whose dates are known."""

    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def kind(self, day: date) -> DayKind:
        if day in self.holidays:
            return DayKind.HOLIDAY
        if day in self.workdays:
            return DayKind.WORKDAY
        return DayKind.REGULAR

    @cached_property
    def _special(self) -> tuple[date, ...]:
        return tuple(sorted({*self.holidays, *self.workdays}))

    def special_days(self, first: date, last: date) -> tuple[date, ...]:
        """Holidays and adjusted working days in ``first``..``last``, in order."""
        days = self._special
        return days[bisect.bisect_left(days, first) : bisect.bisect_right(days, last)]

    def unknown_years(self, first: date, last: date) -> list[int]:
        """Years of ``first``..``last`` whose holidays nobody has told this calendar."""
        return [year for year in range(first.year, last.year + 1) if year not in self.years]

    def corrected(self, holidays: Mapping[date, str], workdays: Mapping[date, str], regular: Iterable[date],
                  years: Iterable[int] = ()) -> Calendar:
        """This calendar with dates added or moved (a later notice, a local holiday) and some made ordinary."""
        plain = set(regular)
        new_holidays = {d: n for d, n in self.holidays.items() if d not in plain and d not in workdays}
        new_workdays = {d: n for d, n in self.workdays.items() if d not in plain and d not in holidays}
        new_holidays.update(holidays)
        new_workdays.update(workdays)
        return Calendar(new_holidays, new_workdays, self.years | frozenset(years))


NO_CALENDAR = Calendar()


def _day(spans: tuple[TimeRange, ...]) -> DayHours:
    return tuple((span.start.hour * 60 + span.start.minute, span.minutes) for span in spans)


def week_hours(facility: Facility) -> WeekHours:
    """Opening hours as plain integers, so grids can be cached for facilities that share them."""
    return tuple(_day(facility.hours_on(weekday)) for weekday in range(7))


def facility_hours(facility: Facility, day: date, calendar: Calendar) -> DayHours:
    """The periods the facility opens that start on ``day``: its weekly hours, as the calendar and its policies
    change them (closed on a holiday, a weekday's hours on an adjusted working day ...)."""
    kind = calendar.kind(day)
    if kind is DayKind.REGULAR or (facility.holidays == "as_usual" and facility.adjusted_workdays == "as_usual"):
        return _day(facility.hours_on(day.weekday()))
    return hours_on(week_hours(facility), day, kind, facility.holidays, facility.adjusted_workdays)


def weekday_hours(week: WeekHours) -> DayHours:
    """A working weekday's hours: those most of Monday to Friday have (the earliest such day on a tie), so a
    library closed on Mondays still opens on an adjusted working day with its Tuesday-to-Friday hours."""
    open_days = [hours for hours in week[:_SAT] if hours]
    if not open_days:
        return ()
    counts = Counter(open_days)
    return max(open_days, key=lambda hours: counts[hours])  # max keeps the first of equal counts


def weekend_hours(week: WeekHours) -> DayHours:
    """Sunday's hours, or Saturday's when the facility is closed on Sundays."""
    return week[_SUN] or week[_SAT]


def hours_on(week: WeekHours, day: date, kind: DayKind, holidays: str, adjusted_workdays: str) -> DayHours:
    """The hours a facility with these weekly hours and policies (sensors.registry.HolidayPolicy and
    WorkdayPolicy) keeps on ``day`` of ``kind``."""
    if kind is DayKind.HOLIDAY:
        if holidays == "closed":
            return ()
        if holidays == "weekend_hours":
            return weekend_hours(week)
    elif kind is DayKind.WORKDAY and adjusted_workdays == "weekday_hours":
        return weekday_hours(week)
    return week[day.weekday()]


def changed_days(week: WeekHours, calendar: Calendar, holidays: str, adjusted_workdays: str, first: date,
                 last: date) -> tuple[tuple[int, DayHours], ...]:
    """(ordinal, hours) of the days in ``first``..``last`` whose hours the calendar changes: the facility's
    exceptions to its week, hashable so schedule grids can be cached with them."""
    if holidays == "as_usual" and adjusted_workdays == "as_usual":
        return ()
    out = []
    for day in calendar.special_days(first, last):
        hours = hours_on(week, day, calendar.kind(day), holidays, adjusted_workdays)
        if hours != week[day.weekday()]:
            out.append((day.toordinal(), hours))
    return tuple(out)
