"""The evidence report as one self-contained HTML file for auditors: a summary by region and type, each flagged
facility with its figures, reasons and a chart of daily use against capacity (a PNG embedded as base64), and a
table of every facility. No scripts, no external files: it can be mailed, archived and printed as it is.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from matplotlib.figure import Figure

from analytics.analysis.model import Status
from analytics.analysis.store import MEASUREMENT, point_time
from analytics.report.data import DailyUse, StatusRow, split_reasons
from analytics.report.table import COLUMNS, PERCENT, counts
from facmon.core.influxql import ident, literal, time_literal

FLAGGED = (Status.IDLE, Status.UNDERUSED, Status.NO_DATA)
_SUMMARY_FIGURES = ("coverage", "occupancy_rate", "peak_rate", "visits_per_open_day", "uses_per_open_day",
                    "idle_day_share", "idle_days", "observed_days", "open_days", "open_hours", "closed_share")
_ALL_COLUMNS = ("facility", "name", "type", "region", "status", "coverage", "occupancy_rate", "visits_per_open_day",
                "idle_day_share", "suspect", "review")
_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
td:first-child,th:first-child,td.text{text-align:left} th{background:#f0f0f0}
.status{padding:.1em .5em;border-radius:.3em;color:#fff;font-weight:bold;font-size:.8em;vertical-align:middle}
.IDLE{background:#b3261e}.UNDERUSED{background:#c77700}.NO_DATA{background:#5f6368}.ACTIVE{background:#1e7b34}.DATA_SUSPECT{background:#6a1b9a}
.EXEMPT{background:#3b6ea8} article{page-break-before:always;border-top:1px solid #ddd;padding-top:1em}
.meta{color:#555} code{font-size:.85em;word-break:break-all} img{max-width:100%}
"""


def chart_png(row: StatusRow, use: DailyUse | None) -> bytes:
    """Daily peak occupancy (or visits, or uses) over the window against capacity, as PNG bytes."""
    days = list(use.days) if use is not None else [row.window.first_day]
    if use is not None and use.peak:
        values, label = [use.peak.get(d) for d in days], "peak occupancy (people)"
        means = [use.mean.get(d) for d in days]
    elif use is not None and (use.entries or use.uses):
        series = use.entries or use.uses
        values, label, means = [series.get(d) for d in days], ("visits" if use.entries else "uses") + " per day", []
    else:
        values, label, means = [None for _ in days], "no data", []
    figure = Figure(figsize=(8, 2.8), dpi=100)
    axes = figure.subplots()
    positions = range(len(days))
    axes.bar(positions, [v or 0 for v in values], color="#4a78b5", label=label)
    missing = [i for i, v in enumerate(values) if v is None]
    for index in missing:
        axes.axvspan(index - 0.5, index + 0.5, color="#dddddd", zorder=0)
    if means:
        axes.plot(positions, [m if m is not None else float("nan") for m in means], color="#e08a1e", marker=".",
                  label="mean occupancy while reporting")
    axes.axhline(row.capacity, color="#b3261e", linestyle="--", label=f"capacity {row.capacity}")
    axes.set_ylim(0, max([row.capacity * 1.4, *(v * 1.4 for v in values if v)]))  # room for the legend
    step = max(1, len(days) // 10)
    axes.set_xticks(list(positions)[::step], [d.strftime("%m-%d") for d in days][::step])
    axes.set_title(f"{row.facility}: daily use, {days[0]} to {days[-1]} ({row.window.timezone}); grey = no data",
                   fontsize=9)
    axes.legend(fontsize=7, loc="upper left", ncol=3)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _value(fmt: str, value: Any) -> str:
    if value is None:
        return "–"
    if fmt == PERCENT:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(lines: list[list[Any]], text_columns: int = 1) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in lines[0])
    body = "".join(
        "<tr>" + "".join(f"<td{' class=text' if i < text_columns else ''}>{escape(str(c))}</td>"
                         for i, c in enumerate(line)) + "</tr>" for line in lines[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(status: Status) -> str:
    return f'<span class="status {status.value}">{status.value}</span>'


def _evidence(row: StatusRow, as_of: date) -> str:
    which = f"{ident('facility')} = {literal(row.facility)} AND time = {time_literal(point_time(as_of))}"
    query = f"SELECT * FROM {ident(MEASUREMENT)} WHERE {which}"  # noqa: S608 (quoted by facmon.core.influxql)
    command = (f"facmon analyze --facility {row.facility} --as-of {as_of.isoformat()} --window {row.window.days}d "
               "--format json")
    return f"<p class=meta>Evidence: <code>{escape(query)}</code><br>Re-run: <code>{escape(command)}</code></p>"


def _facility(row: StatusRow, use: DailyUse | None, as_of: date) -> str:
    formats = {key: fmt for key, _, fmt, _ in COLUMNS}
    headers = {key: header for key, header, _, _ in COLUMNS}
    figures = [["figure", "value"]] + [[headers[k], _value(formats[k], row.figures.get(k))] for k in _SUMMARY_FIGURES]
    if row.change_occupancy_rate is not None:
        figures.append([headers["change_occupancy_rate"], _value(PERCENT, row.change_occupancy_rate)])
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in split_reasons(row.reasons))
    where = f", location {row.location[0]}, {row.location[1]}" if row.location else ""
    review = ""
    if row.review is not None:
        until = f" until {row.review.until}" if row.review.until else ""
        review = (f"<p class=meta>Reviewed by {escape(row.review.reviewer)}: <b>{escape(row.review.disposition)}"
                  f"</b>{escape(until)} — {escape(row.review.note)}</p>")
    png = base64.b64encode(chart_png(row, use)).decode("ascii")
    return (
        f'<article class="facility" id="f-{escape(row.facility)}">'
        f"<h3>{escape(row.name)} <small>({escape(row.facility)})</small> {_badge(row.status)}</h3>"
        f"<p class=meta>{escape(row.type)}, capacity {row.capacity}, region {escape(row.region)}, department "
        f"{escape(row.department or '–')}{escape(where)}; window {row.window.first_day} to {row.window.last_day} "
        f"({row.window.days} days, {escape(row.window.timezone)})</p>"
        f"<h4>Reasons</h4><ul class=reasons>{reasons or '<li>none stored</li>'}</ul>{review}"
        f"{_table(figures)}"
        f'<img class="chart" alt="Daily use of {escape(row.facility)} against its capacity of {row.capacity}" '
        f'src="data:image/png;base64,{png}">'
        f"{_evidence(row, as_of)}</article>"
    )


def _suspect(rows: Sequence[StatusRow]) -> list[str]:
    """The facilities whose data look forged or broken, whatever their status, each with its findings."""
    found = sorted((r for r in rows if r.suspect), key=lambda r: (r.region, r.facility))
    parts = [f'<section id="suspect"><h2>Data suspect facilities ({len(found)})</h2>']
    if not found:
        return [*parts, "<p>None.</p></section>"]
    parts.append("<p class=meta>Data that real crowds and honest sensors do not produce (docs/analytics.md, "
                 "<i>Data integrity</i>): a reason to look, beside the status, not proof.</p>")
    for r in found:
        reasons = "".join(f"<li>{escape(reason)}</li>" for reason in split_reasons(r.integrity))
        parts.append(f"<article class=facility id=\"s-{escape(r.facility)}\"><h3>{escape(r.name)} "
                     f"<small>({escape(r.facility)})</small> "
                     f"{_badge(r.status)} <span class=\"status DATA_SUSPECT\">DATA_SUSPECT</span></h3>"
                     f"<p class=meta>checks fired: {escape(r.integrity_detectors)}</p>"
                     f"<ul class=reasons>{reasons}</ul></article>")
    return [*parts, "</section>"]


def render_html(rows: Sequence[StatusRow], daily: Mapping[str, DailyUse], as_of: date, region: str | None,
                generated: datetime) -> str:
    """The whole report as one HTML document."""
    flagged = [r for r in rows if r.status in FLAGGED]
    flagged.sort(key=lambda r: (FLAGGED.index(r.status), r.region, r.facility))
    formats = {key: (header, fmt, value) for key, header, fmt, value in COLUMNS}
    every = [[formats[k][0] for k in _ALL_COLUMNS]]
    every += [[_value(formats[k][1], formats[k][2](r)) for k in _ALL_COLUMNS] for r in rows]
    scope = escape(region) if region else "all regions"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh"><head><meta charset="utf-8">',
        f"<title>facmon evidence report, as of {as_of}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>Facility use: evidence report</h1><p class=meta>As of {as_of} ({scope}); generated "
        f"{generated.isoformat(timespec='seconds')} from InfluxDB ({MEASUREMENT}, written by facmon analyze). "
        f"{len(rows)} facilities, {len(flagged)} flagged.</p></header>",
        '<section id="summary"><h2>Summary by region</h2>', _table(counts(rows, lambda r: r.region)),
        "<h2>Summary by type</h2>", _table(counts(rows, lambda r: r.type)), "</section>",
        f'<section id="flagged"><h2>Flagged facilities ({len(flagged)})</h2>',
        *(_facility(r, daily.get(r.facility), as_of) for r in flagged),
        "</section>" if flagged else "<p>None.</p></section>",
        *_suspect(rows),
        f'<section id="all"><h2>All facilities ({len(rows)})</h2>', _table(every, text_columns=5), "</section>",
        "</body></html>",
    ]
    return "\n".join(parts)
