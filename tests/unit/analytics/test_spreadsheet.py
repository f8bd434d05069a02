"""Exports safe for Excel and WPS (analytics.analysis.spreadsheet): the report's XLSX and CSV and analyze's CSV
never carry a live formula, numbers are numbers, dates are date cells, empties are empty, CSV floats are rounded."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from datetime import date, datetime

import openpyxl
import pytest

from analytics.alerts.decide import Disposition, Review
from analytics.analysis.engine import assemble
from analytics.analysis.model import Figures, Status
from analytics.analysis.output import render_csv
from analytics.analysis.rules import Rules
from analytics.analysis.spreadsheet import (
    CSV_DECIMALS,
    MAX_CELL,
    MAX_ROWS,
    csv_cell,
    csv_number,
    evaluated,
    fit_cell,
    sheet_name,
)
from analytics.report.table import to_csv, to_xlsx
from facmon.core.i18n import using
from tests.unit.analytics.helpers import facility
from tests.unit.analytics.test_report import AS_OF, GENERATED, row

HYPERLINK = '=HYPERLINK("http://example.invalid/x","点击查看")'
HOSTILE = [HYPERLINK, "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1+2", "\r=1+2"]


def hostile_rows() -> list:
    note = Review("a-idle", Disposition.OTHER, "=1+2", None, "@auditor", 1)
    return [replace(row("a-idle", Status.IDLE, review=note), name=HYPERLINK, department="-dept"),
            replace(row("b-active", Status.ACTIVE), name="+1+2", reasons="@SUM(A1:A2)")]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_trigger_is_neutralised_in_csv(text):
    assert evaluated(text)
    assert csv_cell(text) == "'" + text
    assert csv_cell("图书馆 = library") == "图书馆 = library"  # only the first character matters


def test_csv_numbers_are_rounded_and_empties_empty():
    assert CSV_DECIMALS == 4
    assert csv_number(0.0004196428571428571) == "0.0004"
    assert csv_number(288.0) == "288.0"
    assert csv_number(1e-12) == "0.0"
    assert csv_cell(None) == ""
    assert csv_cell(float("nan")) == ""
    assert csv_cell(-3) == "-3"  # a number is not text: its sign stays
    assert csv_cell(date(2025, 11, 3)) == "2025-11-03"


def test_xlsx_cells_are_typed_and_never_formulas():
    data = to_xlsx(hostile_rows(), AS_OF, None, GENERATED)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert all("<f>" not in xml and "<f " not in xml for xml in sheets)  # no formula anywhere
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Facilities"]
    header = [c.value for c in sheet[1]]
    cells = {sheet.cell(r, 1).value: {h: sheet.cell(r, i + 1) for i, h in enumerate(header)}
             for r in range(2, sheet.max_row + 1)}
    idle = cells["a-idle"]
    for column, text in (("Name", HYPERLINK), ("Department", "-dept"), ("Review note", "=1+2")):
        assert idle[column].data_type == "s", column
        assert idle[column].value == text  # shown exactly as written
        assert idle[column].quotePrefix is True  # and stays text when edited
    assert cells["b-active"]["Reasons"].value == "@SUM(A1:A2)"
    assert cells["b-active"]["Reasons"].data_type == "s"
    assert idle["Name"].quotePrefix is True
    assert cells["b-active"]["Status"].quotePrefix is False  # plain text keeps the plain style
    assert idle["Capacity"].data_type == "n"
    assert idle["Sensor coverage"].data_type == "n"
    assert idle["Window from"].is_date
    assert idle["Window from"].value == datetime(2025, 10, 6)
    assert idle["Window to"].number_format == "yyyy-mm-dd"
    assert idle["Visits per open day"].value is None  # empty, not "None"
    assert idle["Review holds alerts until"].value is None
    assert cells["b-active"]["Review"].value is None
    about = {r[0]: r[1] for r in book["About"].iter_rows(values_only=True)}
    assert about["As of"] == datetime(2025, 11, 3)
    assert about["Generated (UTC)"] == datetime(2025, 11, 3, 8)
    values = [v for line in sheet.iter_rows(values_only=True) for v in line]
    assert "None" not in values


def test_report_csv_text_is_neutralised():
    text = to_csv(hostile_rows()).decode("utf-8-sig")
    assert "'" + HYPERLINK.replace('"', '""') in text
    rows = {r["Facility id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["a-idle"]["Name"] == "'" + HYPERLINK
    assert rows["a-idle"]["Department"] == "'-dept"
    assert rows["a-idle"]["Review note"] == "'=1+2"
    assert rows["a-idle"]["Review holds alerts until"] == ""
    assert rows["b-active"]["Reasons"] == "'@SUM(A1:A2)"
    assert "None" not in text


def test_analyze_csv_is_neutralised_and_rounded():
    odd = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, coverage=1.0,
                  closed_share=0.0, occupancy_rate=0.0004196428571428571, peak_rate=0.6, idle_day_share=0.0,
                  reports_occupancy=True)
    run = assemble([facility("a", name=HYPERLINK)], [(odd, odd)], Rules(), AS_OF, 28)
    text = render_csv(run)
    (line,) = list(csv.DictReader(io.StringIO(text)))
    assert line["name"] == "'" + HYPERLINK
    assert line["occupancy_rate"] == "0.0004"
    assert "0.0004196" not in text


def test_more_rows_than_a_sheet_holds_continue_on_the_next_sheet():
    found = [row(f"f{i:02}", Status.ACTIVE) for i in range(7)]
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(found, AS_OF, None, GENERATED, max_rows=3)))
    assert book.sheetnames[:4] == ["Facilities", "Facilities (2)", "Facilities (3)", "Facilities (4)"]
    assert book.sheetnames[4:] == ["By region", "By type", "About"]
    sheets = [list(book[name].iter_rows(values_only=True)) for name in book.sheetnames[:4]]
    assert all(lines[0] == sheets[0][0] for lines in sheets)  # the header on every sheet
    assert [len(lines) for lines in sheets] == [3, 3, 3, 2]
    assert [line[0] for lines in sheets for line in lines[1:]] == [f"f{i:02}" for i in range(7)]
    for name in book.sheetnames[:4]:
        assert book[name].freeze_panes == "A2"
    assert book["Facilities (4)"].auto_filter.ref.endswith("2")
    assert MAX_ROWS == 1_048_576
    with using("zh_CN"):
        chinese = openpyxl.load_workbook(io.BytesIO(to_xlsx(found, AS_OF, None, GENERATED, max_rows=4)))
    assert chinese.sheetnames[:3] == ["设施", "设施（2）", "设施（3）"]


def test_a_text_longer_than_a_cell_holds_is_cut_with_an_ellipsis():
    long_reason = "=" + "无" * 40_000
    astral = "𠀀" * 20_000  # two UTF-16 units each, as Excel counts them
    found = [replace(row("a-idle", Status.IDLE), reasons=long_reason, name=astral)]
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(found, AS_OF, None, GENERATED)))
    sheet = book["Facilities"]
    header = [c.value for c in sheet[1]]
    line = {h: sheet.cell(2, i + 1) for i, h in enumerate(header)}
    reasons = line["Reasons"]
    assert len(reasons.value) == MAX_CELL
    assert reasons.value.endswith("…")
    assert reasons.value.startswith("=无无")
    assert reasons.quotePrefix is True  # still never a formula
    name = line["Name"].value
    assert len(name.encode("utf-16-le")) // 2 <= MAX_CELL
    assert name.endswith("…")
    assert name[:-1] == "𠀀" * len(name[:-1])  # never half a character
    assert fit_cell("x" * MAX_CELL) == "x" * MAX_CELL
    assert fit_cell("x" * (MAX_CELL + 1)) == "x" * (MAX_CELL - 1) + "…"


@pytest.mark.parametrize(("title", "taken", "suffix", "expected"), [
    ("Facilities", [], "", "Facilities"),
    ("a[b]c:d*e?f/g\\h", [], "", "a_b_c_d_e_f_g_h"),
    ("x" * 40, [], "", "x" * 31),
    ("x" * 40, [], " (2)", "x" * 27 + " (2)"),
    ("'quoted'", [], "", "quoted"),
    ("By region", ["by region"], "", "By region 2"),
    ("y" * 40, ["y" * 31], "", "y" * 29 + " 2"),
    ("", [], "", "Sheet"),
])
def test_sheet_names_are_ones_excel_takes(title, taken, suffix, expected):
    name = sheet_name(title, taken, suffix)
    assert name == expected
    assert len(name) <= 31
    assert not set(name) & set("[]:*?/\\")
