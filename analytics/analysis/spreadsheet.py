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
    from openpyxl.worksheet.worksheet import Worksheet

#: Decimal places of every float in facmon's CSV exports.
CSV_DECIMALS = 4
#: The first characters that make Excel or WPS evaluate a text cell.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


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
        text = str(value)
        cell.value = text
        cell.data_type = "s"  # openpyxl takes a text starting with "=" for a formula
        if evaluated(text):
            cell.quotePrefix = True


def write_row(sheet: Worksheet, row: int, line: Sequence[Any]) -> None:
    """``line`` into row ``row`` (from 1) of ``sheet``, each value through ``put``."""
    from openpyxl.cell.cell import Cell  # here, not above: see the import at the top

    for column, value in enumerate(line, start=1):
        cell = sheet.cell(row=row, column=column)
        if not isinstance(cell, Cell):
            raise TypeError(f"row {row}, column {column} is a merged cell")
        put(cell, value)
