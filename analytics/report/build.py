"""`facmon report`: the evidence report for auditors, as HTML, xlsx or CSV, from what InfluxDB holds.

Everything is read from InfluxDB first (``prepare``); the files are then rendered one at a time (``files``), so a
report split by region (analytics.report.split) holds one part's charts in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from analytics.alerts import reviews
from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.options import REPORT_FORMATS as FORMATS
from analytics.report.data import DailyUse, StatusRow, daily_use, latest_as_of, status_rows
from analytics.report.split import AUTO_LIMIT, Split
from facmon.core.clock import SYSTEM
from facmon.core.influx import InfluxClient
from sensors.registry import Registry

if TYPE_CHECKING:
    from analytics.report.charts import Progress

NO_SPLIT = Split("none")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the report shows, read: the facilities' rows and the daily use of those with a chart."""

    fmt: str
    as_of: date
    region: str | None
    generated: datetime
    rows: list[StatusRow]
    daily: Mapping[str, DailyUse]


@dataclass(frozen=True, slots=True)
class ReportFile:
    """One file of the report: ``name`` None for the file asked for (the whole report, or a split one's index),
    else a part's file name, to be written beside it; ``region`` and ``facilities`` describe a part."""

    name: str | None
    data: bytes
    region: str | None = None
    facilities: int = 0


def prepare(client: InfluxClient, registry: Registry | None, fmt: str, as_of: date | None = None,
            region: str | None = None, generated: datetime | None = None, readings: InfluxClient | None = None,
            calendar: Calendar = NO_CALENDAR) -> Prepared:
    """Read the report: statuses and reviews from ``client`` (the evidence database), the daily use of the
    charted facilities from ``readings``, for ``as_of`` (the newest stored one when None); the charts' closed
    days follow ``calendar`` as the analysis did."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    when = as_of or latest_as_of(client)
    found = reviews.read(client)
    rows = status_rows(client, when, registry, region, found, calendar)
    daily: Mapping[str, DailyUse] = {}
    if fmt == "html":
        from analytics.report.html import charted  # matplotlib: only when reporting in HTML

        daily = daily_use(readings or client, charted(rows))
    return Prepared(fmt, when, region, generated or SYSTEM.now(), rows, daily)


def files(report: Prepared, index: str, split: Split = NO_SPLIT, workers: int | None = None,
          progress: Progress | None = None, limit: int = AUTO_LIMIT) -> Iterator[ReportFile]:
    """The report's files, rendered one at a time: one file, or (HTML split by ``split``) the index first, then
    a part per region, named from ``index`` (the index's file name) and linking back to it."""
    from analytics.report.charts import chart_pool, draw_charts
    from analytics.report.html import charted, render_html, render_index
    from analytics.report.split import plan
    from analytics.report.table import to_csv, to_xlsx

    if report.fmt == "csv":
        yield ReportFile(None, to_csv(report.rows))
        return
    if report.fmt == "xlsx":
        yield ReportFile(None, to_xlsx(report.rows, report.as_of, report.region, report.generated))
        return
    stem = index.rpartition(".")[0] or index
    parts = plan(report.rows, split, stem, limit)
    total = len({row.facility for row in charted(report.rows)})
    with chart_pool(total, workers) as pool:
        if parts is None:
            charts = draw_charts(charted(report.rows), report.daily, pool, progress)
            yield ReportFile(None, render_html(report.rows, report.daily, report.as_of, report.region,
                                               report.generated, charts).encode("utf-8"))
            return
        yield ReportFile(None, render_index(parts, report.as_of, report.region, report.generated).encode("utf-8"))
        done = 0
        for part in parts:
            drawn = charted(part.rows)

            def step(count: int, _of: int, before: int = done) -> None:
                if progress is not None:
                    progress(before + count, total)

            charts = draw_charts(drawn, report.daily, pool, step)
            done += len(charts)
            html = render_html(part.rows, report.daily, report.as_of, part.region or report.region,
                               report.generated, charts, index=index)
            yield ReportFile(part.file, html.encode("utf-8"), part.region, len(part.rows))


def build_report(client: InfluxClient, registry: Registry | None, fmt: str, as_of: date | None = None,
                 region: str | None = None, generated: datetime | None = None,
                 readings: InfluxClient | None = None, calendar: Calendar = NO_CALENDAR) -> tuple[bytes, date]:
    """The report as one file's bytes and the as-of date it shows (see ``prepare``)."""
    report = prepare(client, registry, fmt, as_of, region, generated, readings, calendar)
    (one,) = files(report, f"facmon-report-{report.as_of.isoformat()}.{fmt}")
    return one.data, report.as_of

