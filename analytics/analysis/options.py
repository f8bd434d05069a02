"""Choices the analytics commands offer, kept apart from the code that uses them so `facmon --help` loads no pandas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

#: Facilities per group (one rollup and one readings query each): on the 20,000-facility province a warm run took
#: 77-83 s in groups of 50, 67-70 s in groups of 100 to 200 and more again above (InfluxDB 1.6 plans a longer OR of
#: ids slower: 63 s of its CPU at 300, 108 s at 600); the output is the same (bench/analytics.py -- --group-size N).
DEFAULT_GROUP_SIZE = 100
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
