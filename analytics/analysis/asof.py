"""Dates that make sense for `facmon analyze`: no as-of in the future, no window before the first reading.

An as-of after today (in the facility's own time zone, by facmon.core.clock) would count days that have not happened
as days without data: every facility NO_DATA, outage notices sent, and the bogus date becoming the report's
default. A window that ends before any reading exists says nothing about use either, most often because the
readings database is the wrong one (a mistyped FACMON_INFLUX_DB is empty). Both are refused with a message that
says why; ``--allow-no-readings`` runs the second anyway (e.g. back-filling statuses for a new facility).
A window without readings while earlier ones exist is a real outage: the run goes on and says so plainly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from facmon.core.errors import ConfigError
from facmon.core.influxql import ident, time_literal
from facmon.core.names import READINGS

if TYPE_CHECKING:
    from facmon.core.clock import Clock
    from facmon.core.influx import InfluxClient
    from sensors.registry import Facility


class DatesError(ConfigError):
    """An as-of or a window refused: the message says why and what would be accepted."""


def future_problem(as_of: date, facilities: Sequence[Facility], clock: Clock) -> str | None:
    """Why ``as_of`` is refused (it is after today where some facility is), or None."""
    late = sorted({(clock.today(f.timezone), f.timezone) for f in facilities if as_of > clock.today(f.timezone)})
    if not late:
        return None
    today, zone = late[0]
    return (f"--as-of {as_of} is after today ({today} in {zone}): the window would count days that have not "
            f"happened as days without data; the latest as-of is {today}")


def window_bounds(as_of: date, days: int, facilities: Sequence[Facility]) -> tuple[datetime, datetime]:
    """[start, end) in UTC that holds every facility's window, hours past midnight on the last day included."""
    starts = [datetime.combine(as_of - timedelta(days=days), time(), f.zone) for f in facilities]
    ends = [datetime.combine(as_of + timedelta(days=1), time(), f.zone) for f in facilities]
    return min(starts).astimezone(UTC), max(ends).astimezone(UTC)


def _any(client: InfluxClient, where: str = "") -> bool:
    condition = f" WHERE {where}" if where else ""
    statement = f"SELECT * FROM {ident(READINGS)}{condition} LIMIT 1"  # noqa: S608 (quoted by facmon.core.influxql)
    return any(result.get("series") for result in client.query(statement))


def readings_problem(client: InfluxClient, as_of: date, days: int, facilities: Sequence[Facility],
                     allow: bool) -> tuple[str | None, str | None]:
    """(error, warning) about the readings the window can see: an error when none exists before the window's
    end (unless ``allow``), a warning when the window itself holds none."""
    start, end = window_bounds(as_of, days, facilities)
    span = f"{as_of - timedelta(days=days)} to {as_of - timedelta(days=1)}"
    if _any(client, f"time >= {time_literal(start)} AND time < {time_literal(end)}"):
        return None, None
    plain = f"no readings at all in the window ({span}) in database {client.database!r}: every facility is NO_DATA"
    if _any(client, f"time < {time_literal(end)}"):
        return None, plain
    if allow:
        return None, plain
    ever = "holds no readings at all" if not _any(client) else "has no reading before the window's end"
    return (f"database {client.database!r} {ever} ({span}): wrong FACMON_INFLUX_DB or --as-of? "
            "--allow-no-readings analyses it anyway"), None
