"""The evidence report as one self-contained HTML file for auditors: a summary by region and type, each flagged
facility with its figures, reasons and a chart of daily use against capacity (a PNG embedded as base64), and a
table of every facility. No scripts, no external files: it can be mailed, archived and printed as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from analytics.analysis.model import DISPLAY_ORDER, Status
from analytics.analysis.output import SUSPECT
from analytics.analysis.store import MEASUREMENT, point_time
from analytics.report.charts import draw_charts
from analytics.report.data import DailyUse, StatusRow, split_reasons
from analytics.report.split import Part
from analytics.report.table import COLUMNS, PERCENT, counts
from facmon.core.i18n import CHINESE, _, current, format_number, format_percent
from facmon.core.influxql import ident, literal, time_literal

FLAGGED = (Status.IDLE, Status.UNDERUSED, Status.NO_DATA)
_SUMMARY_FIGURES = ("coverage", "occupancy_rate", "peak_rate", "visits_per_open_day", "uses_per_open_day",
                    "idle_day_share", "idle_days", "observed_days", "open_days", "open_hours", "closed_share")
_ALL_COLUMNS = ("facility", "name", "type", "region", "status", "coverage", "occupancy_rate", "visits_per_open_day",
                "idle_day_share", "suspect", "review")
#: Relative widths of the "All facilities" columns: room for a Chinese name or region path to wrap in two or three
#: lines, figures narrow; the table is as wide as the page (table-layout: fixed), so nothing squeezes the names.
_ALL_WIDTHS = (10, 16, 9, 16, 7, 7, 7, 7, 7, 7, 7)
_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:70em}
table.all{width:100%;table-layout:fixed;font-size:.85em}
table.all td,table.all th{overflow-wrap:anywhere;word-break:normal} table.all th{font-size:.9em}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
td:first-child,th:first-child,.text{text-align:left} th{background:#f0f0f0} .nobr{white-space:nowrap}
.status{padding:.1em .5em;border-radius:.3em;color:#fff;font-weight:bold;font-size:.8em;vertical-align:middle}
.IDLE{background:#b3261e}.UNDERUSED{background:#c77700}.NO_DATA{background:#5f6368}.ACTIVE{background:#1e7b34}.DATA_SUSPECT{background:#6a1b9a}
.EXEMPT{background:#3b6ea8} article{page-break-before:always;border-top:1px solid #ddd;padding-top:1em}
.meta{color:#555} code{font-size:.85em;word-break:break-all} img{max-width:100%}
"""


def _value(fmt: str, value: Any) -> str:
    if value is None:
        return "–"
    if fmt == PERCENT:
        return format_percent(value, 1)
    if isinstance(value, float):
        return format_number(value, 1)
    return str(value)


class _Html(str):
    """Text already written as HTML (escaped, perhaps with <wbr>): a table cell shows it as it is."""

    __slots__ = ()


def _cell(value: Any) -> str:
    return value if isinstance(value, _Html) else escape(str(value))


def _path(region: str) -> _Html:
    """A region path that wraps after a '/' (浙江省/<wbr>丽水市/<wbr>…), not inside a level's name."""
    return _Html("/<wbr>".join(escape(level) for level in region.split("/")))


def _nobr(text: object) -> str:
    """Text kept on one line: a date must not break at its hyphens (2026-12-<br>01)."""
    return f"<span class=nobr>{escape(str(text))}</span>"


def _fill(message: str, **values: str) -> str:
    """A translated message as HTML: its words escaped, its placeholders filled with HTML (escaped already)."""
    return escape(message).format(**values)


def _table(lines: list[list[Any]], text_columns: int = 1, widths: Sequence[float] = (), css: str = "") -> str:
    """An HTML table; with `widths` (relative column widths) a fixed layout whose columns share the page, so a
    name wraps by the width of its column (Chinese between characters, Latin at spaces) and never one
    character per line. The text columns, headers too, align left."""
    def text(i: int) -> str:
        return " class=text" if i < text_columns else ""

    head = "".join(f"<th{text(i)}>{_cell(h)}</th>" for i, h in enumerate(lines[0]))
    body = "".join(
        "<tr>" + "".join(f"<td{text(i)}>{_cell(c)}</td>" for i, c in enumerate(line)) + "</tr>"
        for line in lines[1:])
    total = sum(widths)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in widths)
    colgroup = f"<colgroup>{cols}</colgroup>" if widths else ""
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}>{colgroup}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tag(tag: str, text: str, attributes: str = "") -> str:
    """`text`, escaped, in an element (messages stay outside f-strings, where pybabel finds them)."""
    return f"<{tag}{attributes}>{escape(text)}</{tag}>"


def _badge(status: Status) -> str:
    return f'<span class="status {status.value}">{escape(status.label)}</span>'


def _counts(lines: list[list[Any]]) -> list[list[Any]]:
    """The counts table with its status codes as the reader's words."""
    head = [Status(cell).label if cell in Status.__members__ else cell for cell in lines[0]]
    return [head, *lines[1:]]


def _evidence(row: StatusRow, as_of: date) -> str:
    which = f"{ident('facility')} = {literal(row.facility)} AND time = {time_literal(point_time(as_of))}"
    query = f"SELECT * FROM {ident(MEASUREMENT)} WHERE {which}"  # noqa: S608 (quoted by facmon.core.influxql)
    command = (f"facmon analyze --facility {row.facility} --as-of {as_of.isoformat()} --window {row.window.days}d "
               "--format json --no-store")
    evidence, rerun = escape(_("Evidence:")), escape(_("Re-run:"))
    return f"<p class=meta>{evidence} <code>{escape(query)}</code><br>{rerun} <code>{escape(command)}</code></p>"


def _facility(row: StatusRow, png: bytes, as_of: date) -> str:
    formats = {key: fmt for key, _, fmt, _ in COLUMNS}
    headers = {key: header for key, header, _, _ in COLUMNS}
    figures = [[_("figure"), _("value")]]
    figures += [[_(headers[k]), _value(formats[k], row.figures.get(k))] for k in _SUMMARY_FIGURES]
    if row.change_occupancy_rate is not None:
        figures.append([_(headers["change_occupancy_rate"]), _value(PERCENT, row.change_occupancy_rate)])
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in split_reasons(row.reasons))
    where = _(", location {lat}, {lon}").format(lat=row.location[0], lon=row.location[1]) if row.location else ""
    review = _reviews(row)
    meta = _fill(_("{type}, capacity {capacity}, region {region}, department {department}{where}; window {first} "
                   "to {last} ({days} days, {timezone})"),
                 type=escape(row.type_name or row.type), capacity=escape(str(row.capacity)), region=_path(row.region),
                 department=escape(row.department or "–"), where=escape(where), first=_nobr(row.window.first_day),
                 last=_nobr(row.window.last_day), days=escape(str(row.window.days)),
                 timezone=escape(row.window.timezone))
    return (
        f'<article class="facility" id="f-{escape(row.facility)}">'
        f"<h3>{escape(row.name)} <small>({escape(row.facility)})</small> {_badge(row.status)}</h3>"
        f"<p class=meta>{meta}</p>"
        + _tag("h4", _("Reasons")) + "<ul class=reasons>" + (reasons or _tag("li", _("none stored")))
        + f"</ul>{review}{_table(figures)}{_chart(row, png)}{_evidence(row, as_of)}</article>"
    )


def _chart(row: StatusRow, png: bytes) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    alt = _("Daily use of {facility} against its capacity of {capacity}").format(facility=row.facility,
                                                                                  capacity=row.capacity)
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _reviews(row: StatusRow) -> str:
    """Every review that counts, oldest first, and each hold in force on the as-of date (a later review never
    hides an earlier hold)."""
    if not row.history:
        return _tag("p", _("No review recorded."), " class=meta")
    items = []
    for review in row.history:
        until = _(" until {day}").format(day=review.until) if review.until else ""
        held = " " + _tag("b", _("(hold in force)")) if review in row.holds else ""
        items.append(f"<li>{escape(review.reviewer)}: <b>{escape(review.disposition.value)}</b>{escape(until)}"
                     f"{held} — {escape(review.note)}</li>")
    holds = _("; ").join(_("until {day} ({disposition} by {reviewer})").format(
        day=r.until, disposition=r.disposition.value, reviewer=r.reviewer) for r in row.holds)
    said = _tag("p", _("Alerts held back {holds}.").format(holds=holds), " class=meta") if holds else ""
    return _tag("h4", _("Reviews")) + f"<ul class=reviews>{''.join(items)}</ul>{said}"


def _suspect(rows: Sequence[StatusRow], charts: Mapping[str, bytes], as_of: date) -> list[str]:
    """The facilities whose data look forged or broken, whatever their status, each with its findings, the same
    chart and evidence query as a flagged facility, and its reviews."""
    found = sorted((r for r in rows if r.suspect), key=lambda r: (r.region, r.facility))
    title = _("Data suspect facilities ({count})").format(count=len(found))
    parts = [f'<section id="suspect"><h2>{escape(title)}</h2>']
    if not found:
        return [*parts, _tag("p", _("None.")) + "</section>"]
    parts.append("<p class=meta>" + escape(_("Data that real crowds and honest sensors do not produce "
                                             "(docs/analytics.md, Data integrity): a reason to look, beside the "
                                             "status, not proof.")) + "</p>")
    for r in found:
        reasons = "".join(f"<li>{escape(reason)}</li>" for reason in split_reasons(r.integrity))
        fired = _tag("p", _("checks fired: {detectors}").format(detectors=r.integrity_detectors), " class=meta")
        suspect = escape(_(SUSPECT))
        parts.append(f"<article class=facility id=\"s-{escape(r.facility)}\"><h3>{escape(r.name)} "
                     f"<small>({escape(r.facility)})</small> "
                     f"{_badge(r.status)} <span class=\"status DATA_SUSPECT\">{suspect}</span></h3>{fired}"
                     f"<ul class=reasons>{reasons}</ul>{_reviews(r)}{_chart(r, charts[r.facility])}"
                     f"{_evidence(r, as_of)}</article>")
    return [*parts, "</section>"]


def charted(rows: Sequence[StatusRow]) -> list[StatusRow]:
    """The facilities the report draws a chart of: the flagged and the data suspect."""
    return [r for r in rows if r.status in FLAGGED or r.suspect]


def render_html(rows: Sequence[StatusRow], daily: Mapping[str, DailyUse], as_of: date, region: str | None,
                generated: datetime, charts: Mapping[str, bytes] | None = None, index: str | None = None) -> str:
    """The whole report as one HTML document; ``charts``: the facilities' charts drawn already (by
    analytics.report.charts; the missing ones are drawn here); ``index``: the link to the index of a split report
    this document is a part of."""
    flagged = [r for r in rows if r.status in FLAGGED]
    flagged.sort(key=lambda r: (FLAGGED.index(r.status), r.region, r.facility))
    known = dict(charts or {})
    known.update(draw_charts([r for r in charted(rows) if r.facility not in known], daily))
    formats = {key: (title, fmt, value) for key, title, fmt, value in COLUMNS}
    shown: dict[str, Callable[[StatusRow], Any]] = {
        **{k: formats[k][2] for k in _ALL_COLUMNS}, "status": lambda r: r.status.label,
        "type": lambda r: r.type_name or r.type, "suspect": lambda r: _(SUSPECT) if r.suspect else None}
    every = [[_(formats[k][0]) for k in _ALL_COLUMNS]]
    every += [[_value(formats[k][1], shown[k](r)) for k in _ALL_COLUMNS] for r in rows]
    at = _ALL_COLUMNS.index("region")
    for line in every[1:]:
        line[at] = _path(line[at])
    scope = region or _("all regions")
    title = _("facmon evidence report, as of {as_of}").format(as_of=as_of.isoformat())
    about = _fill(_("As of {as_of} ({scope}); generated {generated} from InfluxDB ({measurement}, written by "
                    "facmon analyze). {count} facilities, {flagged} flagged."),
                  as_of=_nobr(as_of.isoformat()), scope=_path(scope),
                  generated=_nobr(generated.isoformat(timespec="seconds")), measurement=escape(MEASUREMENT),
                  count=escape(str(len(rows))), flagged=escape(str(len(flagged))))
    parts = [
        _head(title),
        "<header>" + _tag("h1", _("Facility use: evidence report")) + f"<p class=meta>{about}</p>"
        + (_back(index) if index is not None else "") + "</header>",
        '<section id="summary">' + _tag("h2", _("Summary by region")),
        _table(_counts(counts(rows, lambda r: r.region))),
        _tag("h2", _("Summary by type")), _table(_counts(counts(rows, lambda r: r.type_name or r.type))),
        "</section>",
        '<section id="flagged">' + _tag("h2", _("Flagged facilities ({count})").format(count=len(flagged))),
        *(_facility(r, known[r.facility], as_of) for r in flagged),
        "</section>" if flagged else _tag("p", _("None.")) + "</section>",
        *_suspect(rows, known, as_of),
        '<section id="all">' + _tag("h2", _("All facilities ({count})").format(count=len(rows))),
        _table(every, text_columns=5, widths=_ALL_WIDTHS, css="all"), "</section>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _head(title: str) -> str:
    lang = "zh-CN" if current() == CHINESE else "en"
    return "\n".join(("<!DOCTYPE html>", f'<html lang="{lang}"><head><meta charset="utf-8">',
                      f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"))


def _back(index: str) -> str:
    """The link from a part of a split report to its index (``index``: the index's file name)."""
    words = escape(_("Index of the report"))
    return f'<p class="meta back"><a href="{escape(quote(index, safe=""))}">{words}</a></p>'


def render_index(parts: Sequence[Part], as_of: date, region: str | None, generated: datetime) -> str:
    """The index of a report split by region: per part its region, its facilities in each status, and the link
    to its file (beside the index)."""
    total = sum(len(part.rows) for part in parts)
    scope = region or _("all regions")
    title = _("facmon evidence report, as of {as_of}").format(as_of=as_of.isoformat())
    about = _fill(_("As of {as_of} ({scope}); generated {generated}. {count} facilities in {parts} parts, one file "
                    "per region beside this one."),
                  as_of=_nobr(as_of.isoformat()), scope=_path(scope),
                  generated=_nobr(generated.isoformat(timespec="seconds")), count=escape(str(total)),
                  parts=escape(str(len(parts))))
    statuses = [s.value for s in DISPLAY_ORDER]
    head = ["<th class=text>" + escape(_("Region")) + "</th>",
            *(f"<th>{escape(Status(s).label)}</th>" for s in statuses), f"<th>{escape(_('total'))}</th>",
            "<th class=text>" + escape(_("Report")) + "</th>"]
    body = []
    for number, part in enumerate(parts, start=1):
        label = part.region or _("(no region)")
        tally = dict.fromkeys(statuses, 0)
        for row in part.rows:
            tally[row.status.value] += 1
        text = _("Part {number} ({region})").format(number=number, region=label)
        cells = [f"<td class=text>{_path(label)}</td>", *(f"<td>{tally[s]}</td>" for s in statuses),
                 f"<td>{len(part.rows)}</td>", f'<td class=text><a href="{escape(part.link)}">{escape(text)}</a></td>']
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    parts_html = [
        _head(title),
        "<header>" + _tag("h1", _("Facility use: evidence report")) + f"<p class=meta>{about}</p></header>",
        '<section id="parts">' + _tag("h2", _("Parts by region")) + table + "</section>",
        "</body></html>",
    ]
    return "\n".join(parts_html)
