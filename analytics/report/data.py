"""What the evidence report shows, read from InfluxDB: each facility's stored status and figures for an as-of
date (``facility_status``, written by ``facmon analyze``), its latest review, and the daily use of the flagged
ones, aggregated by InfluxDB per local day (``GROUP BY time(1d) … tz('…')``).

The report shows what the alerts were decided from; it never analyses again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.alerts.decide import Review
from analytics.alerts.review_history import holds
from analytics.alerts.store import rows
from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.model import Status, Window
from analytics.analysis.schedule import windows
from analytics.analysis.store import FLOAT_FIGURES, INT_FIGURES, MEASUREMENT, point_time
from analytics.report.chart_days import closed_days
from facmon.core.errors import FacmonError
from facmon.core.i18n import current
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.names import READINGS
from sensors.facility_types import display_type
from sensors.registry import DEFAULT_TIMEZONE, Registry

CHUNK = 50


class ReportError(FacmonError, ValueError):
    """Nothing to report, with what to do about it."""


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One facility's stored result for the as-of date, with registry details when the registry knows it."""

    facility: str
    name: str
    type: str
    region: str
    department: str
    capacity: int
    status: Status
    window: Window
    figures: dict[str, float | int | None]
    reasons: str
    fired: str
    type_percentile: float | None = None
    change_occupancy_rate: float | None = None
    location: tuple[float, float] | None = None
    review: Review | None = None  # the latest
    history: tuple[Review, ...] = ()  # every review that counts (not undone), oldest first
    holds: tuple[Review, ...] = ()  # those whose hold is in force on the as-of date, the longest first
    suspect: bool = False  # data integrity (docs/analytics.md): a flag beside the status
    integrity: str = ""  # the findings' reasons, joined by "; "
    integrity_detectors: str = ""
    #: of the window: no opening hours, or a closure (analytics.report.chart_days)
    closed_days: frozenset[date] = frozenset()
    type_name: str = ""  # the type as people call it, in the report's language (Registry.display_type)


@dataclass(frozen=True, slots=True)
class DailyUse:
    """Per local day of the window: peak and mean occupancy (sum over sensors), visits (entries) and uses."""

    days: tuple[date, ...]
    peak: dict[date, float] = field(default_factory=dict)
    mean: dict[date, float] = field(default_factory=dict)
    entries: dict[date, float] = field(default_factory=dict)
    uses: dict[date, float] = field(default_factory=dict)


def latest_as_of(client: InfluxClient) -> date:
    """The as-of date of the newest stored statuses."""
    statement = f"SELECT last({ident('open_days')}) FROM {ident(MEASUREMENT)}"  # noqa: S608 (quoted)
    found = list(rows(client.query(statement, epoch="ns")))
    if not found:
        raise ReportError(f"no statuses in {MEASUREMENT}: run `facmon analyze` first")
    return datetime.fromtimestamp(int(found[0]["time"]) // 10**9, UTC).date()


def split_reasons(text: str) -> list[str]:
    """The reasons facility_status stores joined by "; ", apart again; a "; " inside parentheses is kept."""
    reasons, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth <= 0 and text.startswith("; ", index):
            reasons.append(text[start:index])
            start = index + 2
    reasons.append(text[start:])
    return [reason for reason in reasons if reason]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _type_name(registry: Registry | None, code: str) -> str:
    """The type's display name in the current language: the registry's names, else the built-in ones."""
    if registry is not None:
        return registry.display_type(code, current())
    return display_type(code, current())


def status_rows(client: InfluxClient, as_of: date, registry: Registry | None, region: str | None = None,
                reviews: Iterable[Review] = (), calendar: Calendar = NO_CALENDAR) -> list[StatusRow]:
    """Every facility's stored result for ``as_of`` (of ``region`` and below), sorted by region and id; closed
    days as the analysis saw them with ``calendar``."""
    when = time_literal(point_time(as_of))
    statement = f"SELECT * FROM {ident(MEASUREMENT)} WHERE time = {when}"  # noqa: S608 (quoted)
    past: dict[str, list[Review]] = {}
    for review in sorted(reviews, key=lambda r: r.time_ns):
        past.setdefault(review.facility, []).append(review)
    prefix = (region or "").strip("/")
    out = []
    for row in rows(client.query(statement, epoch="ns")):
        fid, where = str(row["facility"]), str(row.get("region") or "")
        if prefix and where != prefix and not where.startswith(prefix + "/"):
            continue
        try:
            status = Status(row.get("status", ""))
        except ValueError:
            continue
        facility = registry.get(fid) if registry is not None else None
        zone = facility.timezone if facility is not None else DEFAULT_TIMEZONE
        window, _ = windows(as_of, int(row.get("window_days") or 28), zone)
        figures: dict[str, float | int | None] = {name: _float(row.get(name)) for name in FLOAT_FIGURES}
        figures.update({name: int(row.get(name) or 0) for name in INT_FIGURES})
        location = None
        if facility is not None and facility.location is not None:
            location = (facility.location.lat, facility.location.lon)
        out.append(StatusRow(
            facility=fid, name=str(row.get("name") or fid), type=str(row.get("type") or ""), region=where,
            department=str(row.get("department") or ""), capacity=int(row.get("capacity") or 0), status=status,
            window=window, figures=figures, reasons=str(row.get("reasons") or ""), fired=str(row.get("fired") or ""),
            type_percentile=_float(row.get("type_percentile")),
            change_occupancy_rate=_float(row.get("change_occupancy_rate")), location=location,
            review=past[fid][-1] if past.get(fid) else None, history=tuple(past.get(fid, ())),
            holds=tuple(holds(past.get(fid, []), as_of)), suspect=row.get("suspect") is True,
            integrity=str(row.get("integrity") or ""), integrity_detectors=str(row.get("integrity_detectors") or ""),
            type_name=_type_name(registry, str(row.get("type") or "")),
            closed_days=closed_days(facility, (window.first_day + timedelta(days=i) for i in range(window.days)),
                                    calendar),
        ))
    if not out:
        where = f" in region {prefix!r}" if prefix else ""
        raise ReportError(f"no statuses for as-of {as_of}{where} in {MEASUREMENT}: run `facmon analyze --as-of "
                          f"{as_of}` first")
    return sorted(out, key=lambda r: (r.region, r.facility))


def _bounds(window: Window) -> tuple[str, str]:
    zone = ZoneInfo(window.timezone)
    start = datetime(window.first_day.year, window.first_day.month, window.first_day.day, tzinfo=zone)
    end_day = window.last_day + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
    return time_literal(start), time_literal(end)


def daily_statements(facility_ids: Sequence[str], window: Window) -> list[str]:
    """Two statements: peak and mean occupancy per local day (sensors' 15-minute means summed per facility),
    and entries and uses per local day; InfluxDB aggregates, in the window's time zone."""
    start, end = _bounds(window)
    when = f"time >= {start} AND time < {end}"
    which = " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in facility_ids)
    fac, occ = ident("facility"), ident("occ")
    zone = f"tz({literal(window.timezone)})"
    per_sensor = (f"SELECT mean({ident('occupancy')}) AS {occ} FROM {ident(READINGS)} WHERE ({which}) AND {when} "  # noqa: S608
                  f"GROUP BY time(15m), {fac}, {ident('sensor')} fill(none)")
    per_facility = f"SELECT sum({occ}) AS {occ} FROM ({per_sensor}) WHERE {when} GROUP BY time(15m), {fac} fill(none)"  # noqa: S608
    occupancy = (f"SELECT max({occ}) AS {ident('peak')}, mean({occ}) AS {ident('mean')} FROM ({per_facility}) "  # noqa: S608
                 f"WHERE {when} GROUP BY time(1d), {fac} fill(none) {zone}")
    counts = (f"SELECT sum({ident('entries')}) AS {ident('entries')}, sum({ident('uses')}) AS {ident('uses')} "  # noqa: S608
              f"FROM {ident(READINGS)} WHERE ({which}) AND {when} GROUP BY time(1d), {fac} fill(none) {zone}")
    return [occupancy, counts]


def _local_day(ns: int, timezone: str) -> date:
    return datetime.fromtimestamp(ns / 10**9, ZoneInfo(timezone)).date()


def daily_use(client: InfluxClient, facilities: Sequence[StatusRow]) -> dict[str, DailyUse]:
    """Daily use over each facility's window, for facilities grouped by window (time zone and dates)."""
    groups: dict[Window, list[str]] = {}
    for facility in facilities:
        groups.setdefault(facility.window, []).append(facility.facility)
    out: dict[str, DailyUse] = {}
    for window, ids in groups.items():
        days = tuple(window.first_day + timedelta(days=i) for i in range(window.days))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            uses = {fid: DailyUse(days) for fid in chunk}
            results = client.query(";".join(daily_statements(chunk, window)), epoch="ns")
            for result in results:
                for row in rows([result]):
                    use = uses.get(str(row.get("facility")))
                    if use is None:
                        continue
                    day = _local_day(int(row["time"]), window.timezone)
                    for name in ("peak", "mean", "entries", "uses"):
                        if row.get(name) is not None:
                            getattr(use, name)[day] = float(row[name])
            out.update(uses)
    return out
