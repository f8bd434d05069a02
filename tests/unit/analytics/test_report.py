"""The evidence report's renderers on hand-made rows: HTML (read back with a real HTML parser), xlsx, CSV."""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import openpyxl
import pytest
from PIL import Image

from analytics.alerts.decide import Disposition, Review
from analytics.analysis.model import Status, Window
from analytics.report.charts import chart_png
from analytics.report.data import DailyUse, StatusRow, split_reasons
from analytics.report.html import render_html
from analytics.report.table import COLUMNS, counts, table, to_csv, to_xlsx
from facmon.core.i18n import using

AS_OF = date(2025, 11, 3)
WINDOW = Window(date(2025, 10, 6), date(2025, 11, 2), "Asia/Shanghai")
GENERATED = datetime(2025, 11, 3, 8, tzinfo=UTC)


def row(fid: str, status: Status, region: str = "zhejiang/wenzhou/lucheng", kind: str = "library",
        reasons: str = "", review: Review | None = None) -> StatusRow:
    figures = {"coverage": 0.92, "occupancy_rate": 0.031, "peak_rate": 0.2, "visits_per_open_day": None,
               "uses_per_open_day": None, "idle_day_share": 0.875, "closed_share": 0.0, "open_hours": 224.0,
               "covered_hours": 206.0, "closed_hours": 0.0, "open_days": 24, "observed_days": 24, "idle_days": 21}
    return StatusRow(fid, f"设施 {fid} <&>", kind, region, "文广旅体局", 120, status, WINDOW, figures,
                     reasons or f"reason of {fid}: 21 of 24 days idle (87.5% ≥ 80%)", "idle_day_share",
                     review=review, history=(review,) if review else (),
                     holds=(review,) if review and review.until else ())


def rows() -> list[StatusRow]:
    seasonal = Review("b-under", Disposition.SEASONAL, "summer break", date(2025, 12, 1), "auditor zhang", 1)
    return [
        row("a-idle", Status.IDLE, reasons="no use on 21 of 24 open days (87.5% ≥ 80%); mean occupancy 3.1% (< 10%)"),
        row("b-under", Status.UNDERUSED, region="zhejiang/wenzhou/ouhai", kind="sports_hall", review=seasonal),
        row("c-nodata", Status.NO_DATA),
        row("d-active", Status.ACTIVE, kind="sports_hall"),
        row("e-exempt", Status.EXEMPT, region="zhejiang/wenzhou/ouhai"),
    ]


def daily(peak: bool = True) -> DailyUse:
    days = tuple(WINDOW.first_day + timedelta(days=i) for i in range(WINDOW.days))
    if peak:
        return DailyUse(days, peak={d: 10.0 + i for i, d in enumerate(days[:20])},
                        mean=dict.fromkeys(days[:20], 4.0))
    return DailyUse(days, entries=dict.fromkeys(days[5:], 30.0))


class Page(HTMLParser):
    """What the report holds, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.articles: dict[str, str] = {}
        self.images: dict[str, list[str]] = {}
        self.stack: list[str] = []
        self.article: str | None = None
        self.text: list[str] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "article":
            self.article = str(found["id"])
            self.articles[self.article] = ""
        if tag == "img" and self.article is not None:
            self.images.setdefault(self.article, []).append(str(found["src"]))
        if tag not in ("img", "meta", "br", "col", "wbr"):  # void elements
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1:] == [tag], (tag, self.stack[-5:])
        self.stack.pop()
        if tag == "article":
            self.article = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.article is not None:
            self.articles[self.article] += data
        if self.stack and self.stack[-1] == "title":
            self.titles.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert page.stack == []
    return page


def png_size(src: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    raw = base64.b64decode(src[len(prefix):], validate=True)
    assert raw.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(raw)) as image:
        image.verify()
        return image.size


def test_html_has_every_flagged_facility_with_reasons_and_a_chart():
    found = rows()
    page = parse(render_html(found, {"a-idle": daily(), "b-under": daily(peak=False)}, AS_OF, None, GENERATED))
    assert set(page.articles) == {"f-a-idle", "f-b-under", "f-c-nodata"}
    idle = page.articles["f-a-idle"]
    assert "设施 a-idle <&>" in idle  # escaped in the source, intact once parsed
    assert "no use on 21 of 24 open days (87.5% ≥ 80%)" in idle
    assert "mean occupancy 3.1% (< 10%)" in idle
    assert "Sensor coverage" in idle
    assert "92.0%" in idle
    assert "SELECT * FROM \"facility_status\" WHERE \"facility\" = 'a-idle'" in idle
    assert "auditor zhang: seasonal until 2025-12-01 (hold in force) — summer break" in page.articles["f-b-under"]
    for article in page.articles:
        (src,) = page.images[article]
        width, height = png_size(src)
        assert width >= 600
        assert height >= 200
    whole = "".join(page.text)
    assert "d-active" in whole
    assert "e-exempt" in whole
    assert page.titles == ["facmon evidence report, as of 2025-11-03"]


def test_html_without_flagged_facilities():
    page = parse(render_html([row("d-active", Status.ACTIVE)], {}, AS_OF, "zhejiang", GENERATED))
    assert page.articles == {}
    assert "Flagged facilities (0)" in "".join(page.text)


def test_chart_draws_days_without_data_and_count_only_sites():
    for use in (daily(), daily(peak=False), None):
        size = Image.open(io.BytesIO(chart_png(row("a", Status.IDLE), use))).size
        assert size == (800, 280)


def test_counts_by_region_and_type():
    found = rows()
    by_region = counts(found, lambda r: r.region)
    assert by_region[0] == ["", "IDLE", "UNDERUSED", "NO_DATA", "EXEMPT", "ACTIVE", "total"]
    assert by_region[1] == ["zhejiang/wenzhou/lucheng", 1, 0, 1, 0, 1, 3]
    assert by_region[2] == ["zhejiang/wenzhou/ouhai", 0, 1, 0, 1, 0, 2]
    assert by_region[-1] == ["all", 1, 1, 1, 1, 1, 5]
    assert counts(found, lambda r: r.type)[2] == ["sports_hall", 0, 1, 0, 0, 1, 2]


def test_xlsx_has_one_row_per_facility_with_the_figures():
    found = rows()
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(found, AS_OF, None, GENERATED)))
    assert book.sheetnames == ["Facilities", "By region", "By type", "About"]
    sheet = book["Facilities"]
    lines = list(sheet.iter_rows(values_only=True))
    header = list(lines[0])
    assert header == [h for _, h, _, _ in COLUMNS]
    assert len(lines) == 1 + len(found)
    data = {line[0]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert set(data) == {r.facility for r in found}
    idle = data["a-idle"]
    assert idle["Status"] == "IDLE"
    assert idle["Sensor coverage"] == pytest.approx(0.92)
    assert idle["Idle days"] == 21
    assert idle["Visits per open day"] is None
    assert data["b-under"]["Review holds alerts until"] == datetime(2025, 12, 1)  # a date cell
    column = header.index("Sensor coverage") + 1
    assert sheet.cell(row=2, column=column).number_format == "0.0%"
    assert [line[0] for line in lines[1:4]] == ["a-idle", "b-under", "c-nodata"]  # flagged first


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    ("one reason", ["one reason"]),
    ("no use on 21 of 24 open days (87.5% ≥ 80%); mean occupancy 3.1% (< 10%)",
     ["no use on 21 of 24 open days (87.5% ≥ 80%)", "mean occupancy 3.1% (< 10%)"]),
    ("sensor data in 12% of opening hours (27 h of 224 h; < 60%): a sensor problem",
     ["sensor data in 12% of opening hours (27 h of 224 h; < 60%): a sensor problem"]),
])
def test_split_reasons_keeps_semicolons_inside_parentheses(text, expected):
    assert split_reasons(text) == expected


def test_csv_matches_the_table_and_opens_with_a_bom():
    found = rows()
    raw = to_csv(found)
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    expected = [["" if cell is None else str(cell) for cell in line] for line in table(found)]
    assert parsed == expected
    assert len(parsed) == 1 + len(found)


def test_the_report_in_chinese():
    """Headings, figures, status words, type names and the spreadsheet's headers in Chinese; `<html lang>`
    follows; the codes stay in the spreadsheet's cells; the "All facilities" table has column widths that share
    the page, so a Chinese name wraps by width."""
    found = [replace(r, type_name={"library": "图书馆", "sports_hall": "全民健身中心"}[r.type]) for r in rows()]
    with using("zh_CN"):
        text = render_html(found, {"a-idle": daily()}, AS_OF, None, GENERATED)
        workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(found, AS_OF, None, GENERATED)))
        header = next(csv.reader(io.StringIO(to_csv(found).decode("utf-8-sig"))))
    assert '<html lang="zh-CN">' in text
    page = parse(text)
    assert page.titles == ["facmon 证据报告（截至 2025-11-03）"]
    whole = "".join(page.text)
    for words in ("公共设施使用情况证据报告", "按地区汇总", "按类型汇总", "需关注的设施（3 个）", "全部设施（5 个）",
                  "数据覆盖率", "闲置", "使用率低", "数据缺失", "全民健身中心", "核查记录"):
        assert words in whole, words
    assert "Sensor coverage" not in whole
    assert '<table class="all"><colgroup><col style="width:' in text
    assert workbook.sheetnames == ["设施", "按地区", "按类型", "说明"]
    assert header[:3] == ["设施编号", "名称", "类型"]
    assert workbook["设施"]["G2"].value == "IDLE"  # the status stays a code in the cells


def test_dates_do_not_break_at_their_hyphens_and_region_paths_break_after_a_slash():
    """Chromium broke the window's last day as 2025-11-<br>02 beside Chinese text, and a pinyin region in the
    narrow column of "All facilities" as zhejiang/wenzhou/luche<br>ng; the text columns' headers sat right."""
    found = [replace(r, region="浙江省/丽水市/缙云县") for r in rows()]
    with using("zh_CN"):
        text = render_html(found, {}, AS_OF, None, GENERATED)
    for day in ("2025-10-06", "2025-11-02", "2025-11-03", "2025-11-03T08:00:00+00:00"):
        assert f"<span class=nobr>{day}</span>" in text, day
    assert "地区 浙江省/<wbr>丽水市/<wbr>缙云县，" in text  # the facility's line
    assert "<td class=text>浙江省/<wbr>丽水市/<wbr>缙云县</td>" in text  # its cell in "All facilities"
    assert '<table class="all">' in text
    all_header = text[text.index('<table class="all">'):].split("</thead>")[0]
    assert all_header.count("<th class=text>") == 5  # facility, name, type, region, status
    page = parse(text)
    assert "设施 a-idle <&>" in page.articles["f-a-idle"]  # escaped where filled in, intact once parsed


def test_html_lang_is_english_in_english():
    assert '<html lang="en">' in render_html(rows(), {}, AS_OF, None, GENERATED)
