"""Cells that a spreadsheet shows and never runs: the one place facmon's CSV and XLSX exports turn values into cells.

Registry names, review notes and reasons come from people and from files anyone may edit, and Excel and WPS
evaluate a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (and, after a tab or carriage return, whatever
follows): ``=HYPERLINK("http://…","点击查看")`` in a facility name would become a live link in an auditor's copy.

- XLSX: every text is written as a string cell (never a formula), and a text that a spreadsheet would evaluate gets
  the quote-prefix style, so it shows exactly as written and stays text when the cell is edited. Numbers are
  number cells, dates are date cells (``yyyy-mm-dd``), empty values are empty cells.
- CSV: a text that a spreadsheet would evaluate is prefixed with an apostrophe (``'=1+2``), which Excel and WPS
  show as text; empty values are empty fields; floats are rounded to ``CSV_DECIMALS`` decimal places (rates are
  fractions, so 0.0001 = 0.01%) and written without exponent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openpyxl is loaded by the workbook writers only: analyze's CSV (and `facmon --help`) skip it
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: Decimal places of every float in facmon's CSV exports.
CSV_DECIMALS = 4
#: The first characters that make Excel or WPS evaluate a text cell.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
#: Excel's limits: characters in a cell, rows in a sheet, characters in a sheet's name and those it may not hold.
MAX_CELL = 32_767
MAX_ROWS = 1_048_576
MAX_SHEET_NAME = 31
SHEET_NAME_FORBIDDEN = frozenset("[]:*?/\\")
CUT = "…"


def fit_cell(text: str) -> str:
    """``text`` as an XLSX cell holds it: whole, or cut to MAX_CELL characters (UTF-16 units) ending in "…"."""
    if len(text) <= MAX_CELL // 2:
        return text  # no text this short is too long, even of characters that take two units
    units = text.encode("utf-16-le")
    if len(units) <= 2 * MAX_CELL:
        return text
    return units[: 2 * (MAX_CELL - len(CUT))].decode("utf-16-le", errors="ignore") + CUT


def sheet_name(title: str, taken: Iterable[str] = (), suffix: str = "") -> str:
    """``title`` (then ``suffix``, kept whole) as a sheet name Excel takes: forbidden characters as ``_``, no
    apostrophe at either end, at most MAX_SHEET_NAME characters, not one of ``taken`` (case ignored: numbered)."""
    clean = "".join("_" if c in SHEET_NAME_FORBIDDEN or not c.isprintable() else c for c in title).strip("'")
    used = {name.casefold() for name in taken}
    number, extra = 1, ""
    while True:
        name = (clean[: MAX_SHEET_NAME - len(suffix) - len(extra)] + suffix + extra).strip("'") or "Sheet"
        if name.casefold() not in used:
            return name
        number += 1
        extra = f" {number}"


def evaluated(text: str) -> bool:
    """Whether a spreadsheet would evaluate ``text`` typed into a cell."""
    return text.startswith(TRIGGERS)


def csv_text(text: str) -> str:
    """``text`` as a CSV field a spreadsheet shows and never evaluates."""
    return "'" + text if evaluated(text) else text


def csv_number(value: float) -> str:
    """A float rounded to CSV_DECIMALS places, without exponent or trailing zeros (``0.0004``, ``288.0``)."""
    text = f"{round(value, CSV_DECIMALS):.{CSV_DECIMALS}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def csv_cell(value: Any) -> str:
    """One CSV field: empty for None, ISO for dates, rounded floats, neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "" if value != value else csv_number(value)  # NaN: no figure
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return csv_text(str(value))


def csv_bytes(lines: Iterable[Sequence[Any]], *, bom: bool = False, terminator: str = "\r\n") -> bytes:
    """Rows as CSV (UTF-8, with a byte-order mark when ``bom``: Excel then reads Chinese names correctly)."""
    return csv_string(lines, terminator=terminator).encode("utf-8-sig" if bom else "utf-8")


def csv_string(lines: Iterable[Sequence[Any]], *, terminator: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=terminator)
    for line in lines:
        writer.writerow([csv_cell(cell) for cell in line])
    return out.getvalue()


def put(cell: Cell, value: Any) -> None:
    """Write ``value`` into an XLSX cell by its kind: empty, number, date, or text that is never a formula."""
    if value is None or (isinstance(value, float) and value != value):
        cell.value = None
    elif isinstance(value, bool | int | float):
        cell.value = value
    elif isinstance(value, datetime):
        cell.value = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)  # shown as UTC
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        text = fit_cell(str(value))
        cell.value = text
        cell.data_type = "s"  # openpyxl takes a text starting with "=" for a formula
        if evaluated(text):
            cell.quotePrefix = True


def cells(sheet: WriteOnlyWorksheet, line: Sequence[Any], formats: Sequence[str] = ()) -> list[Cell]:
    """``line`` as cells of a write-only sheet, each value through ``put``, with its column's number format (from
    ``formats``, "" for none) when the value is a number."""
    from openpyxl.cell import WriteOnlyCell

    out = []
    for index, value in enumerate(line):
        cell = WriteOnlyCell(sheet)
        put(cell, value)
        fmt = formats[index] if index < len(formats) else ""
        if fmt and cell.data_type == "n":
            cell.number_format = fmt
        out.append(cell)
    return out
