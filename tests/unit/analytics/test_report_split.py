"""The HTML report split by region (analytics.report.split, analytics.report.build.files): the index links every
part and each part links back, region labels in any script, safe and distinct file names, one file unchanged
below the threshold, and each chart drawn once."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from analytics.analysis.model import Status
from analytics.report import charts
from analytics.report.build import NO_SPLIT, Prepared, files
from analytics.report.html import render_html
from analytics.report.split import (
    MAX_REGION_BYTES,
    MAX_STEM_BYTES,
    Split,
    SplitError,
    choose_depth,
    parse_split,
    part_names,
    plan,
)
from tests.unit.analytics.test_report import AS_OF, GENERATED, daily, parse, row

STATUSES = (Status.IDLE, Status.ACTIVE, Status.ACTIVE, Status.NO_DATA, Status.EXEMPT)
REGIONS = ("浙江省/杭州市/西湖区", "浙江省/杭州市/上城区", "浙江省/温州市/鹿城区", "zhejiang/lishui", "")


def facilities(per_region: int = 3) -> list:
    return [row(f"f-{r}-{i}", STATUSES[(r + i) % len(STATUSES)], region=region)
            for r, region in enumerate(REGIONS) for i in range(per_region)]


def prepared(rows: list) -> Prepared:
    return Prepared("html", AS_OF, None, GENERATED, rows, {r.facility: daily() for r in rows})


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(str(dict(attrs)["href"]))


def links(text: str) -> list[str]:
    found = Links()
    found.feed(text)
    return found.hrefs


def test_split_values_are_parsed_and_bad_ones_named():
    assert parse_split("auto") == Split("auto")
    assert parse_split("none") == Split("none")
    assert parse_split("region") == Split("region")
    assert parse_split("region:2") == Split("region", 2)
    for bad in ("regions", "region:0", "region:9", "region:", "region:２", "auto:2", ""):
        with pytest.raises(SplitError, match="region:DEPTH"):
            parse_split(bad)


def test_the_index_links_every_part_and_each_part_links_back():
    report = prepared(facilities())
    written = list(files(report, "报告 2025.html", Split("region", 2)))
    index, parts = written[0], written[1:]
    assert index.name is None
    assert [p.region for p in parts] == ["", "zhejiang/lishui", "浙江省/杭州市", "浙江省/温州市"]
    assert [p.facilities for p in parts] == [3, 3, 6, 3]
    text = index.data.decode("utf-8")
    parse(text)
    assert sorted(unquote(href) for href in links(text)) == sorted(str(p.name) for p in parts)
    assert all("/" not in href and "%" in href for href in links(text) if not href.isascii())
    whole = "".join(parse(text).text)
    assert "(浙江省/杭州市)" in whole  # the region label in full
    assert "(浙江省/温州市)" in whole
    for part in parts:
        page = part.data.decode("utf-8")
        assert [unquote(h) for h in links(page)] == ["报告 2025.html"]
        shown = {r.facility for r in report.rows if r.region.startswith(part.region or "\0") or
                 (not part.region and not r.region)}
        assert set(parse(page).articles) == {f"f-{f}" for f in shown
                                             if next(r for r in report.rows if r.facility == f).status
                                             in (Status.IDLE, Status.NO_DATA)}


def test_auto_leaves_a_small_report_byte_for_byte_as_it_was():
    report = prepared(facilities())
    (whole,) = files(report, "r.html", Split("auto"))
    (same,) = files(report, "r.html", NO_SPLIT)
    assert whole.data == same.data
    before = render_html(report.rows, report.daily, AS_OF, None, GENERATED).encode("utf-8")
    assert whole.data == before
    assert len(list(files(report, "r.html", Split("auto"), limit=5))) > 1


def test_auto_picks_the_shallowest_depth_with_small_enough_parts():
    rows = facilities()
    assert choose_depth(rows, limit=15) == 1
    assert choose_depth(rows, limit=9) == 1
    assert choose_depth(rows, limit=6) == 2  # 浙江省 9 > 6 at depth 1, 浙江省/杭州市 6
    assert choose_depth([r for r in rows if r.region.startswith("浙江省")], limit=5) == 3
    assert choose_depth(rows, limit=3) == 3
    assert choose_depth(rows, limit=1) == 3  # as deep as the paths go
    parts = plan(rows, Split("auto"), "r", limit=6)
    assert parts is not None
    assert max(len(p.rows) for p in parts) <= 6


def test_unsafe_region_names_make_safe_file_names():
    hostile = ["../../etc/passwd", ".hidden", "a\\b", "a\x00b\nc", "\u202eevil", "..", "/", "x" * 500,
               "浙" * 200, "con", "a b:c*d?e\"f<g>h|i", "ｆｕｌｌ／ｗｉｄｔｈ"]
    names = part_names(hostile, "." * 3 + "report/../x" + "y" * 400)
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        assert "/" not in name
        assert "\\" not in name
        assert "\0" not in name
        assert "\n" not in name
        assert not name.startswith(".")
        assert name.endswith(".html")
        assert len(name.encode("utf-8")) <= MAX_STEM_BYTES + MAX_REGION_BYTES + 20
        assert all(c.isprintable() for c in name)
    assert names[8].split("-", 1)[1].startswith("浙浙")  # Chinese kept, cut on a character's boundary


def test_colliding_names_are_numbered():
    names = part_names(["a/b", "a_b", "A_B", "a?b", "c"], "r")
    assert names == ["r-a_b.html", "r-a_b-2.html", "r-A_B-3.html", "r-a_b-4.html", "r-c.html"]


def test_a_split_report_of_colliding_regions_writes_every_part():
    rows = [row("f1", Status.IDLE, region="a/b"), row("f2", Status.IDLE, region="a_b")]
    written = list(files(prepared(rows), "r.html", Split("region", 2)))
    assert [w.name for w in written[1:]] == ["r-a_b.html", "r-a_b-2.html"]
    assert sorted(links(written[0].data.decode())) == ["r-a_b-2.html", "r-a_b.html"]


def test_a_facility_flagged_and_suspect_is_drawn_once(monkeypatch):
    drawn: list[str] = []
    real = charts.chart_png

    def counting(row_, use):
        drawn.append(row_.facility)
        return real(row_, use)

    monkeypatch.setattr(charts, "chart_png", counting)
    both = replace(row("a", Status.IDLE), suspect=True, integrity="flat line", integrity_detectors="flat")
    page = parse(render_html([both, row("b", Status.NO_DATA)], {"a": daily()}, AS_OF, None, GENERATED))
    assert sorted(drawn) == ["a", "b"]
    assert page.images["f-a"] == page.images["s-a"]


def test_a_pool_draws_the_same_charts_with_progress():
    rows = [row(f"p{i}", Status.IDLE) for i in range(6)]
    seen: list[tuple[int, int]] = []
    here = charts.draw_charts(rows, {r.facility: daily() for r in rows})
    with charts.chart_pool(len(rows), workers=2, pool_above=2) as pool:
        assert pool is not None
        pooled = charts.draw_charts(rows, {r.facility: daily() for r in rows}, pool,
                                    lambda done, total: seen.append((done, total)))
    assert pooled == here
    assert seen[-1] == (6, 6)
    with charts.chart_pool(40, workers=4) as none:
        assert none is None
