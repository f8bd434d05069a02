"""The report's table, one row per facility with every figure, as CSV and as an xlsx workbook, and the counts
by region and type that both the spreadsheet and the HTML summarise with. Pure apart from writing the bytes.

CSV is UTF-8 with a byte-order mark, so spreadsheet programs open Chinese names correctly; rates are fractions
(0.25 = 25%) in CSV and formatted as percentages in the workbook. Every cell goes through
analytics.analysis.spreadsheet (text never evaluated, numbers as numbers, dates as dates, empties empty, CSV
floats rounded).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from analytics.analysis.model import DISPLAY_ORDER, PRECEDENCE
from analytics.analysis.spreadsheet import DATE_FORMAT, MAX_ROWS, cells, csv_bytes, sheet_name
from analytics.report.data import StatusRow
from facmon.core.i18n import N_, _

PERCENT = "percent"
Column = tuple[str, str, str, Callable[[StatusRow], Any]]  # key, header (translated where shown), format, value


def _figure(name: str) -> Callable[[StatusRow], Any]:
    return lambda row: row.figures.get(name)


def _review(attr: str) -> Callable[[StatusRow], Any]:
    def value(row: StatusRow) -> Any:
        if row.review is None:
            return None
        found = getattr(row.review, attr)
        return found if found is None or isinstance(found, date) else str(found)

    return value


COLUMNS: tuple[Column, ...] = (
    ("facility", N_("Facility id"), "", lambda r: r.facility),
    ("name", N_("Name"), "", lambda r: r.name),
    ("type", N_("Type"), "", lambda r: r.type),
    ("region", N_("Region"), "", lambda r: r.region),
    ("department", N_("Department"), "", lambda r: r.department or None),
    ("capacity", N_("Capacity"), "", lambda r: r.capacity),
    ("status", N_("Status"), "", lambda r: r.status.value),
    ("first_day", N_("Window from"), DATE_FORMAT, lambda r: r.window.first_day),
    ("last_day", N_("Window to"), DATE_FORMAT, lambda r: r.window.last_day),
    ("timezone", N_("Time zone"), "", lambda r: r.window.timezone),
    ("coverage", N_("Sensor coverage"), PERCENT, _figure("coverage")),
    ("occupancy_rate", N_("Mean occupancy / capacity"), PERCENT, _figure("occupancy_rate")),
    ("peak_rate", N_("Peak occupancy / capacity"), PERCENT, _figure("peak_rate")),
    ("visits_per_open_day", N_("Visits per open day"), "0.0", _figure("visits_per_open_day")),
    ("uses_per_open_day", N_("Uses per open day"), "0.0", _figure("uses_per_open_day")),
    ("idle_day_share", N_("Open days without use"), PERCENT, _figure("idle_day_share")),
    ("idle_days", N_("Idle days"), "", _figure("idle_days")),
    ("observed_days", N_("Open days with data"), "", _figure("observed_days")),
    ("open_days", N_("Open days"), "", _figure("open_days")),
    ("open_hours", N_("Opening hours"), "0.00", _figure("open_hours")),
    ("covered_hours", N_("Hours with data"), "0.00", _figure("covered_hours")),
    ("closed_hours", N_("Hours closed on purpose"), "0.00", _figure("closed_hours")),
    ("closed_share", N_("Share closed on purpose"), PERCENT, _figure("closed_share")),
    ("change_occupancy_rate", N_("Change in occupancy rate"), PERCENT, lambda r: r.change_occupancy_rate),
    ("type_percentile", N_("Percentile among its type"), "0", lambda r: r.type_percentile),
    ("reasons", N_("Reasons"), "", lambda r: r.reasons),
    ("fired", N_("Thresholds crossed"), "", lambda r: r.fired or None),
    ("suspect", N_("Data integrity"), "", lambda r: "DATA_SUSPECT" if r.suspect else None),
    ("integrity_detectors", N_("Integrity checks fired"), "", lambda r: r.integrity_detectors or None),
    ("integrity", N_("Integrity findings"), "", lambda r: r.integrity or None),
    ("review", N_("Review"), "", _review("disposition")),
    ("review_until", N_("Review holds alerts until"), DATE_FORMAT, lambda r: r.holds[0].until if r.holds else None),
    ("review_note", N_("Review note"), "", _review("note")),
)


def table(rows: Sequence[StatusRow]) -> list[list[Any]]:
    """Header and one row per facility, flagged first."""
    ordered = sorted(rows, key=lambda r: (DISPLAY_ORDER.index(r.status), r.region, r.facility))
    return [[_(title) for _key, title, _fmt, _value in COLUMNS]] + [[value(r) for *_x, value in COLUMNS]
                                                                      for r in ordered]


def counts(rows: Sequence[StatusRow], key: Callable[[StatusRow], str]) -> list[list[Any]]:
    """Header and, per key (region or type), the facilities in each status and in all; the header's statuses are
    codes (the HTML shows their words)."""
    statuses = [s.value for s in DISPLAY_ORDER]
    tally: dict[str, dict[str, int]] = {}
    for row in rows:
        tally.setdefault(key(row), dict.fromkeys(statuses, 0))[row.status.value] += 1
    body = [[name, *(tally[name][s] for s in statuses), sum(tally[name].values())] for name in sorted(tally)]
    totals = [_("all"), *(sum(counted[s] for counted in tally.values()) for s in statuses), len(rows)]
    return [["", *statuses, _("total")], *body, totals]


def to_csv(rows: Sequence[StatusRow]) -> bytes:
    return csv_bytes(table(rows), bom=True)


def _widths(lines: list[list[Any]]) -> list[float]:
    """Column widths from the first 200 lines: room for the text, at least 8 and at most 60 characters."""
    return [min(max(max(len(str("" if line[i] is None else line[i])) for line in lines[:200]) + 2, 8), 60)
            for i in range(len(lines[0]))]


def _sheet(book: Workbook, title: str, lines: list[list[Any]], formats: Sequence[str] = (),
           max_rows: int = MAX_ROWS) -> None:
    """``lines`` (a header, then rows) on a sheet called ``title``, continued on "title (2)" and on when there
    are more than ``max_rows`` rows (the header on every one), each with its header frozen and filtered."""
    head, body = lines[0], lines[1:]
    per = max_rows - 1
    chunks = [body[i : i + per] for i in range(0, len(body), per)] or [[]]
    widths = _widths(lines)
    shown = ["0.0%" if fmt == PERCENT else fmt for fmt in formats]
    for number, chunk in enumerate(chunks, start=1):
        suffix = _(" ({number})").format(number=number) if number > 1 else ""
        sheet = book.create_sheet(sheet_name(title, book.sheetnames, suffix))
        sheet.freeze_panes = "A2"
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        if chunk:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(head))}{len(chunk) + 1}"
        header = cells(sheet, head)
        for cell in header:
            cell.font = Font(bold=True)
        sheet.append(header)
        for line in chunk:
            sheet.append(cells(sheet, line, shown))


def to_xlsx(rows: Sequence[StatusRow], as_of: date, region: str | None, generated: datetime,
            max_rows: int = MAX_ROWS) -> bytes:
    """A workbook: Facilities (the table; more rows than a sheet holds, ``max_rows``, continue on "Facilities
    (2)" and on), By region, By type, About (what the figures mean). Written as it goes (openpyxl's write-only
    mode): a province's table does not sit in memory as cell objects."""
    book = Workbook(write_only=True)
    _sheet(book, _("Facilities"), table(rows), [fmt for _key, _title, fmt, _value in COLUMNS], max_rows)
    _sheet(book, _("By region"), counts(rows, lambda r: r.region), max_rows=max_rows)
    _sheet(book, _("By type"), counts(rows, lambda r: r.type_name or r.type), max_rows=max_rows)
    statuses = _(", ").join(_("{code} ({label})").format(code=s.value, label=s.label) for s in PRECEDENCE)
    about: list[list[Any]] = [
        [_("facmon evidence report"), ""],
        [_("As of"), as_of],
        [_("Region"), region or _("all")],
        [_("Generated (UTC)"), generated],
        [_("Source"), _("InfluxDB measurement facility_status, written by facmon analyze")],
        [_("Statuses"), _("{statuses} (first rule that fires wins)").format(statuses=statuses)],
        [_("Coverage"), _("share of opening hours with sensor data; below the threshold the status is NO_DATA")],
    ]
    _sheet(book, _("About"), about)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
