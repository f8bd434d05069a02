"""Choices the analytics commands offer, kept apart from the code that uses them so `facmon --help` loads no pandas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

DEFAULT_GROUP_SIZE = 50
DEFAULT_CONCURRENCY = 2
REPORT_FORMATS = ("html", "xlsx", "csv")


class RollupMode(StrEnum):
    USE = "use"  # read stored days, store newly settled ones
    REBUILD = "rebuild"  # ignore stored days, aggregate everything again and store it
    READ = "read"  # read stored days, store nothing (a run that must not write)
    OFF = "off"  # raw readings only


@dataclass(frozen=True, slots=True)
class Settle:
    """Ordinals before which days are kept in the rollup: with data, and without any data."""

    with_data: int
    without_data: int

    @staticmethod
    def from_today(today: date, settle_days: int = 2, max_reading_age_days: int = 35) -> Settle:
        return Settle(today.toordinal() - settle_days, today.toordinal() - max_reading_age_days - 1)
