"""`facmon report`: the evidence report for auditors, as HTML, xlsx or CSV, from what InfluxDB holds."""

from __future__ import annotations

from datetime import date, datetime

from analytics.alerts import reviews
from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.options import REPORT_FORMATS as FORMATS
from analytics.report.data import daily_use, latest_as_of, status_rows
from facmon.core.clock import SYSTEM
from facmon.core.influx import InfluxClient
from sensors.registry import Registry


def build_report(client: InfluxClient, registry: Registry | None, fmt: str, as_of: date | None = None,
                 region: str | None = None, generated: datetime | None = None,
                 readings: InfluxClient | None = None, calendar: Calendar = NO_CALENDAR) -> tuple[bytes, date]:
    """The report's bytes and the as-of date it shows (the newest stored one when ``as_of`` is None); statuses
    and reviews come from ``client`` (the evidence database), the daily use charts from ``readings``; the charts'
    closed days follow ``calendar`` as the analysis did."""
    from analytics.report.html import FLAGGED, render_html  # matplotlib and openpyxl: only when reporting
    from analytics.report.table import to_csv, to_xlsx

    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    when = as_of or latest_as_of(client)
    moment = generated or SYSTEM.now()
    found = reviews.read(client)
    rows = status_rows(client, when, registry, region, found, calendar)
    if fmt == "csv":
        return to_csv(rows), when
    if fmt == "xlsx":
        return to_xlsx(rows, when, region, moment), when
    charted = [r for r in rows if r.status in FLAGGED or r.suspect]
    return render_html(rows, daily_use(readings or client, charted), when, region, moment).encode("utf-8"), when
