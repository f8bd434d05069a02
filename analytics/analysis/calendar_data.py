"""Where China's calendar comes from: the ``chinese-calendar`` package, corrected by an optional calendar file.

The package (1.11.0) knows the State Council's holidays and adjusted working days from 2004 to 2026; each
release adds the next year once its notice is out (usually in November). Until then, or for a county's own
holidays, a calendar file (``FACMON_CALENDAR``) adds or corrects dates::

    years: [2027]                  # years this file lists completely (the notice is out)
    holidays:
      - {from: 2027-01-01, to: 2027-01-03, name: 元旦}
      - {date: 2027-05-20, name: 县庆日}    # a local holiday
    workdays:                      # weekend days worked in exchange (调休)
      - {date: 2027-02-20, name: 春节调休}
    regular:                       # dates that are ordinary days after all
      - 2026-10-10

A date listed here replaces what the package says of it. The file is read once at start, like the registry;
the package is imported only here, so the rest of the analysis sees a plain analytics.analysis.calendar.Calendar.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

from pydantic import ConfigDict, Field, ValidationError, model_validator

from analytics.analysis.calendar import Calendar
from facmon.core import config, yamlload
from facmon.core.config import ConfigFileError, StrictModel
from sensors.registry import Day, Text

MAX_SPAN_DAYS = 31  # the longest holiday is 8 or 9 days; a longer range is a typo in a year or month
FIRST_YEAR, LAST_YEAR = 2000, 2100


class CalendarError(ConfigFileError):
    """The calendar file is unusable; one problem per line."""


class Dates(StrictModel):
    """One date (``date``) or a range (``from``..``to``), with the holiday's or working day's name."""

    model_config = ConfigDict(populate_by_name=True)

    day: Day | None = Field(default=None, alias="date")
    start: Day | None = Field(default=None, alias="from")
    end: Day | None = Field(default=None, alias="to")
    name: Text

    @model_validator(mode="after")
    def _one_form(self) -> Dates:
        if (self.day is None) == (self.start is None and self.end is None) or (self.start is None) != (
                self.end is None):
            raise ValueError("give either date, or both from and to")
        first, last = self.span()
        if last < first:
            raise ValueError(f"to ({last}) is before from ({first})")
        if (last - first).days >= MAX_SPAN_DAYS:
            raise ValueError(f"{first}..{last} is longer than {MAX_SPAN_DAYS} days")
        if not FIRST_YEAR <= first.year <= last.year <= LAST_YEAR:
            raise ValueError(f"dates must lie in {FIRST_YEAR}..{LAST_YEAR}")
        return self

    def span(self) -> tuple[date, date]:
        if self.day is not None:
            return self.day, self.day
        assert self.start is not None  # _one_form
        assert self.end is not None
        return self.start, self.end

    def days(self) -> dict[date, str]:
        first, last = self.span()
        return {first + timedelta(days=i): self.name for i in range((last - first).days + 1)}


class CalendarFile(StrictModel):
    years: tuple[int, ...] = ()
    holidays: tuple[Dates, ...] = ()
    workdays: tuple[Dates, ...] = ()
    regular: tuple[Day, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CalendarFile:
        problems = [f"years: {y} is outside {FIRST_YEAR}..{LAST_YEAR}" for y in self.years
                    if not FIRST_YEAR <= y <= LAST_YEAR]
        holidays = {d for entry in self.holidays for d in entry.days()}
        workdays = {d for entry in self.workdays for d in entry.days()}
        problems += [f"{d} is listed both as a holiday and as a working day" for d in sorted(holidays & workdays)]
        problems += [f"{d} is listed as regular and as a holiday or working day"
                     for d in sorted(set(self.regular) & (holidays | workdays))]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def package_calendar() -> Calendar:
    """The ``chinese-calendar`` package's holidays and adjusted working days, and the years they cover."""
    from chinese_calendar import constants  # the one place the package is read

    holidays = {d: str(name) for d, name in constants.holidays.items()}
    workdays = {d: str(name) for d, name in constants.workdays.items()}
    known = {d.year for d in holidays}
    return Calendar(holidays, workdays, frozenset(range(min(known), max(known) + 1)))


def parse_calendar(data: object, base: Calendar, source: str = "<calendar>") -> Calendar:
    """``base`` corrected by a calendar file's content (what ``yaml.safe_load`` returned)."""
    if data is None:
        return base
    try:
        parsed = CalendarFile.model_validate(data)
    except ValidationError as exc:
        raise CalendarError(config.problems(exc, lambda loc: ("", loc), lambda loc: ()), source) from None
    holidays = {d: n for entry in parsed.holidays for d, n in entry.days().items()}
    workdays = {d: n for entry in parsed.workdays for d, n in entry.days().items()}
    return base.corrected(holidays, workdays, parsed.regular, parsed.years)


def load_calendar(path: str | os.PathLike[str] | None) -> Calendar:
    """The package's calendar, corrected by the file at ``path`` when one is given (FACMON_CALENDAR)."""
    base = package_calendar()
    if path is None:
        return base
    source = os.fspath(path)
    try:
        data = yamlload.load(yamlload.read_text(source, yamlload.CONFIG), yamlload.CONFIG)
    except yamlload.YamlError as exc:
        raise CalendarError(str(exc), source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}", source) from None
    return parse_calendar(data, base, source)
