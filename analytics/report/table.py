"""The report's table, one row per facility with every figure, as CSV and as an xlsx workbook, and the counts
by region and type that both the spreadsheet and the HTML summarise with. Pure apart from writing the bytes.

CSV is UTF-8 with a byte-order mark, so spreadsheet programs open Chinese names correctly; rates are fractions
(0.25 = 25%) in CSV and formatted as percentages in the workbook.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from analytics.analysis.model import DISPLAY_ORDER, PRECEDENCE
from analytics.report.data import StatusRow

PERCENT = "percent"
Column = tuple[str, str, str, Callable[[StatusRow], Any]]  # key, header, format, value


def _figure(name: str) -> Callable[[StatusRow], Any]:
    return lambda row: row.figures.get(name)


def _review(attr: str) -> Callable[[StatusRow], Any]:
    def value(row: StatusRow) -> Any:
        if row.review is None:
            return None
        found = getattr(row.review, attr)
        return found.isoformat() if isinstance(found, date) else str(found)

    return value


COLUMNS: tuple[Column, ...] = (
    ("facility", "Facility id", "", lambda r: r.facility),
    ("name", "Name", "", lambda r: r.name),
    ("type", "Type", "", lambda r: r.type),
    ("region", "Region", "", lambda r: r.region),
    ("department", "Department", "", lambda r: r.department or None),
    ("capacity", "Capacity", "", lambda r: r.capacity),
    ("status", "Status", "", lambda r: r.status.value),
    ("first_day", "Window from", "", lambda r: r.window.first_day.isoformat()),
    ("last_day", "Window to", "", lambda r: r.window.last_day.isoformat()),
    ("timezone", "Time zone", "", lambda r: r.window.timezone),
    ("coverage", "Sensor coverage", PERCENT, _figure("coverage")),
    ("occupancy_rate", "Mean occupancy / capacity", PERCENT, _figure("occupancy_rate")),
    ("peak_rate", "Peak occupancy / capacity", PERCENT, _figure("peak_rate")),
    ("visits_per_open_day", "Visits per open day", "0.0", _figure("visits_per_open_day")),
    ("uses_per_open_day", "Uses per open day", "0.0", _figure("uses_per_open_day")),
    ("idle_day_share", "Open days without use", PERCENT, _figure("idle_day_share")),
    ("idle_days", "Idle days", "", _figure("idle_days")),
    ("observed_days", "Open days with data", "", _figure("observed_days")),
    ("open_days", "Open days", "", _figure("open_days")),
    ("open_hours", "Opening hours", "0.00", _figure("open_hours")),
    ("covered_hours", "Hours with data", "0.00", _figure("covered_hours")),
    ("closed_hours", "Hours closed on purpose", "0.00", _figure("closed_hours")),
    ("closed_share", "Share closed on purpose", PERCENT, _figure("closed_share")),
    ("change_occupancy_rate", "Change in occupancy rate", PERCENT, lambda r: r.change_occupancy_rate),
    ("type_percentile", "Percentile among its type", "0", lambda r: r.type_percentile),
    ("reasons", "Reasons", "", lambda r: r.reasons),
    ("fired", "Thresholds crossed", "", lambda r: r.fired or None),
    ("suspect", "Data integrity", "", lambda r: "DATA_SUSPECT" if r.suspect else None),
    ("integrity_detectors", "Integrity checks fired", "", lambda r: r.integrity_detectors or None),
    ("integrity", "Integrity findings", "", lambda r: r.integrity or None),
    ("review", "Review", "", _review("disposition")),
    ("review_until", "Review holds alerts until", "", _review("until")),
    ("review_note", "Review note", "", _review("note")),
)


def table(rows: Sequence[StatusRow]) -> list[list[Any]]:
    """Header and one row per facility, flagged first."""
    ordered = sorted(rows, key=lambda r: (DISPLAY_ORDER.index(r.status), r.region, r.facility))
    return [[header for _, header, _, _ in COLUMNS]] + [[value(r) for *_, value in COLUMNS] for r in ordered]


def counts(rows: Sequence[StatusRow], key: Callable[[StatusRow], str]) -> list[list[Any]]:
    """Header and, per key (region or type), the facilities in each status and in all."""
    statuses = [s.value for s in DISPLAY_ORDER]
    tally: dict[str, dict[str, int]] = {}
    for row in rows:
        tally.setdefault(key(row), dict.fromkeys(statuses, 0))[row.status.value] += 1
    body = [[name, *(tally[name][s] for s in statuses), sum(tally[name].values())] for name in sorted(tally)]
    totals = ["all", *(sum(counted[s] for counted in tally.values()) for s in statuses), len(rows)]
    return [["", *statuses, "total"], *body, totals]


def to_csv(rows: Sequence[StatusRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in table(rows):
        writer.writerow(["" if cell is None else cell for cell in line])
    return out.getvalue().encode("utf-8-sig")


def _sheet(book: Workbook, title: str, lines: list[list[Any]], formats: Sequence[str] = ()) -> None:
    sheet = book.create_sheet(title)
    for line in lines:
        sheet.append(line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    if len(lines) > 1:
        sheet.auto_filter.ref = sheet.dimensions
    for index, fmt in enumerate(formats, start=1):
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.0%" if fmt == PERCENT else fmt
    for index in range(1, len(lines[0]) + 1):
        width = max(len(str(line[index - 1] or "")) for line in lines[:200])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)


def to_xlsx(rows: Sequence[StatusRow], as_of: date, region: str | None, generated: datetime) -> bytes:
    """A workbook: Facilities (the table), By region, By type, About (what the figures mean)."""
    book = Workbook()
    if book.active is not None:
        book.remove(book.active)
    _sheet(book, "Facilities", table(rows), [fmt for _, _, fmt, _ in COLUMNS])
    _sheet(book, "By region", counts(rows, lambda r: r.region))
    _sheet(book, "By type", counts(rows, lambda r: r.type))
    about = [
        ["facmon evidence report", ""],
        ["As of", as_of.isoformat()],
        ["Region", region or "all"],
        ["Generated", generated.isoformat(timespec="seconds")],
        ["Source", "InfluxDB measurement facility_status, written by facmon analyze"],
        ["Statuses", ", ".join(s.value for s in PRECEDENCE) + " (first rule that fires wins)"],
        ["Coverage", "share of opening hours with sensor data; below the threshold the status is NO_DATA"],
    ]
    _sheet(book, "About", about)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
