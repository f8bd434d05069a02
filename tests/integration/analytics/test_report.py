"""`facmon report` against the real InfluxDB: statuses stored by an analysis run and daily use aggregated by
InfluxDB in the facility's time zone, written as HTML (parsed back, charts decoded, first page rendered by
Chromium with the Chinese names drawn as glyphs, not boxes), xlsx and CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from PIL import Image, ImageChops

from analytics.analysis import store
from analytics.analysis.model import Status
from analytics.report.data import daily_use, status_rows
from tests.conftest import server_missing
from tests.integration.analytics.auditing import COMM, GYM, LIB, REASONS, D, registry, run_of
from tests.integration.analytics.test_review import env, facmon
from tests.unit.analytics.test_report import parse

__all__ = ["env"]  # fixtures used by name
pytestmark = pytest.mark.servers
ZONE = ZoneInfo("Asia/Shanghai")
STATUSES = {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.NO_DATA}


def local_ns(day, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp()) * 10**9


@pytest.fixture
def seeded(db, evidence):
    """Statuses for D (and an older as-of) in the evidence database, readings for the window: LIB with two sensors,
    GYM by entries."""
    store.store_run(evidence, run_of(D - timedelta(days=7), {LIB: Status.ACTIVE, GYM: Status.ACTIVE,
                                                             COMM: Status.ACTIVE}))
    store.store_run(evidence, run_of(D, STATUSES))
    lines = []
    for offset in range(1, 29):
        day = D - timedelta(days=offset)
        if offset % 4:  # every fourth day without data
            lines.append(f"reading,facility={LIB},sensor=door-1 occupancy={offset}i {local_ns(day, 10)}")
            lines.append(f"reading,facility={LIB},sensor=door-2 occupancy=2i {local_ns(day, 10)}")
            lines.append(f"reading,facility={LIB},sensor=door-1 occupancy=0i {local_ns(day, 10, 15)}")
        lines.append(f"reading,facility={GYM},sensor=gate entries=5i {local_ns(day, 0, 30)}")  # UTC: the day before
        lines.append(f"reading,facility={GYM},sensor=gate entries=7i {local_ns(day, 23, 45)}")
    db.write("\n".join(lines).encode())
    return db


def test_daily_use_is_aggregated_per_local_day(seeded, evidence):
    rows = status_rows(evidence, D, registry())
    use = daily_use(seeded, rows)
    library, gym = use[LIB], use[GYM]
    assert len(library.days) == 28
    first = D - timedelta(days=1)
    assert library.peak[first] == 3.0  # sensors summed per quarter hour: door-1 1 + door-2 2
    assert library.mean[first] == 1.5  # 1 + 2 at 10:00, 0 at 10:15 (door-2 sent nothing then)
    assert D - timedelta(days=4) not in library.peak
    assert len(library.peak) == 21
    assert gym.entries == dict.fromkeys(gym.days, 12.0)  # 00:30 and 23:45 local fall on the same local day
    assert use[COMM].peak == {}


def test_html_report_shows_the_flagged_facilities_with_charts(seeded, env, tmp_path):
    out = tmp_path / "report.html"
    done = facmon("report", "--format", "html", "--as-of", D.isoformat(), "--output", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert f"wrote the html report as of {D} to {out}" in done.stderr
    assert out.stat().st_mode & 0o777 == 0o640  # evidence: owner and group only
    page = parse(out.read_text(encoding="utf-8"))
    assert set(page.articles) == {f"f-{LIB}", f"f-{COMM}"}
    idle = page.articles[f"f-{LIB}"]
    assert "鹿城区图书馆五马分馆" in idle
    for reason in REASONS[Status.IDLE]:
        assert reason in idle
    assert REASONS[Status.NO_DATA][0] in page.articles[f"f-{COMM}"]
    for images in page.images.values():
        (src,) = images
        raw = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            assert image.format == "PNG"
            assert image.size == (800, 280)
    if shutil.which("chromium") is None:
        server_missing("chromium is not installed, so the first page is not rendered (scripts/setup.sh installs "
                       "it under CI=true; apt-get install chromium fonts-noto-cjk)")
    with Image.open(screenshot(out, tmp_path / "first-page.png")) as image:
        assert image.size == (1240, 1754)
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 5000, "the first page looks blank"
        # Missing CJK fonts draw every Chinese character as the same box: the page with the facility's name
        # and the page with a box character in its place would then look the same.
        name = "鹿城区图书馆五马分馆"
        boxed = tmp_path / "boxed.html"
        boxed.write_text(out.read_text(encoding="utf-8").replace(name, "口" * len(name)), encoding="utf-8")
        with Image.open(screenshot(boxed, tmp_path / "boxed.png")) as other:
            changed = sum(ImageChops.difference(grey, other.convert("L")).point(lambda v: v > 64).histogram()[1:])
    assert changed > 500, ("the Chinese names render as boxes: no CJK font for chromium (fc-list :lang=zh is "
                           f"{fonts_for_chinese() or 'empty'}; apt-get install fonts-noto-cjk)")


def screenshot(page: Path, shot: Path) -> Path:
    """The first A4-sized screen of `page` as Chromium draws it, offline and without a profile of its own."""
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", f"--user-data-dir={shot.parent / 'chromium-profile'}",
                    f"--screenshot={shot}", "--window-size=1240,1754", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return shot


def fonts_for_chinese() -> str:
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return ", ".join(sorted(set(found.stdout.split("\n")) - {""})[:3])


def test_xlsx_and_csv_have_one_row_per_facility(seeded, env, tmp_path):
    done = facmon("report", "--format", "xlsx", "--as-of", D.isoformat(), "--output", str(tmp_path / "r.xlsx"),
                  env=env)
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Facilities"]
    lines = list(sheet.iter_rows(values_only=True))
    header = lines[0]
    by_id = {line[0]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert set(by_id) == {LIB, GYM, COMM}
    assert by_id[LIB]["Status"] == "IDLE"
    assert by_id[LIB]["Sensor coverage"] == pytest.approx(0.9)
    assert by_id[LIB]["Idle days"] == 21
    assert by_id[COMM]["Sensor coverage"] == pytest.approx(0.12)
    assert by_id[GYM]["Window from"].date() == D - timedelta(days=28)  # a date cell

    done = facmon("report", "--format", "csv", "--as-of", D.isoformat(), "--region", "zhejiang/wenzhou/ouhai",
                  "--output", "-", env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.removeprefix("\ufeff"))))
    assert [(r["Facility id"], r["Status"]) for r in rows] == [(COMM, "NO_DATA")]


def test_default_as_of_is_the_newest_and_empty_dates_fail(seeded, env, tmp_path):
    done = facmon("report", "--format", "csv", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = Path(tmp_path / f"facmon-report-{D.isoformat()}.csv")
    assert written.exists()
    missing = facmon("report", "--as-of", "2020-01-01", env=env, cwd=tmp_path)
    assert missing.returncode == 1
    assert "no statuses for as-of 2020-01-01" in missing.stderr
    assert "facmon analyze --as-of 2020-01-01" in missing.stderr


def test_the_report_written_in_chinese_shows_its_words_as_glyphs(seeded, env, tmp_path):
    """`facmon report` with FACMON_LANGUAGE=zh_CN: the headings, status words and type names are Chinese, the page
    says so (`<html lang="zh-CN">`), and Chromium draws them: the first page with its heading replaced by boxes
    looks different."""
    out = tmp_path / "报告.html"
    done = facmon("report", "--format", "html", "--as-of", D.isoformat(), "--output", str(out),
                  env={**env, "FACMON_LANGUAGE": "zh_CN"})
    assert done.returncode == 0, done.stderr
    assert f"已写出截至 {D} 的 html 报告" in done.stderr
    text = out.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text
    whole = "".join(parse(text).text)
    heading = "公共设施使用情况证据报告"
    for words in (heading, "按地区汇总", "需关注的设施（2 个）", "闲置", "数据缺失", "图书馆", "数据覆盖率"):
        assert words in whole, words
    if shutil.which("chromium") is None:
        server_missing("chromium is not installed, so the first page is not rendered (scripts/setup.sh installs "
                       "it under CI=true; apt-get install chromium fonts-noto-cjk)")
    with Image.open(screenshot(out, tmp_path / "first-page.png")) as image:
        grey = image.convert("L")
        assert sum(grey.histogram()[:128]) > 5000, "the first page looks blank"
        boxed = tmp_path / "boxed.html"
        boxed.write_text(text.replace(f"<h1>{heading}</h1>", f"<h1>{'口' * len(heading)}</h1>"), encoding="utf-8")
        with Image.open(screenshot(boxed, tmp_path / "boxed.png")) as other:
            changed = sum(ImageChops.difference(grey, other.convert("L")).point(lambda v: v > 64).histogram()[1:])
    assert changed > 500, ("the Chinese heading renders as boxes: no CJK font for chromium (fc-list :lang=zh is "
                           f"{fonts_for_chinese() or 'empty'}; apt-get install fonts-noto-cjk)")


def test_split_auto_leaves_a_small_report_as_it_was_and_region_splits_it(seeded, env, tmp_path):
    """Three facilities: --split auto (the default) writes the same bytes as --split none; --split region:3 writes
    an index linking one file per district, each linking back, and --print json lists them."""
    whole, auto = tmp_path / "none.html", tmp_path / "auto.html"
    for out, split in ((whole, ["--split", "none"]), (auto, ["--progress"])):
        done = facmon("report", "--as-of", D.isoformat(), "--output", str(out), *split, env=env)
        assert done.returncode == 0, done.stderr
    assert auto.read_bytes() == whole.read_bytes()
    assert "100.0% 2/2 charts" in done.stderr  # the bar, asked for though stderr is no terminal here
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    done = facmon("report", "--as-of", D.isoformat(), "--output", str(split_dir / "r.html"), "--split", "region:3",
                  "--print", "json", env=env)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert [f["region"] for f in said["files"]] == [None, "zhejiang/wenzhou/lucheng", "zhejiang/wenzhou/ouhai"]
    assert sorted(p.name for p in split_dir.iterdir()) == ["r-zhejiang_wenzhou_lucheng.html",
                                                           "r-zhejiang_wenzhou_ouhai.html", "r.html"]
    assert all(Path(f["path"]).stat().st_size == f["bytes"] for f in said["files"])
    index = (split_dir / "r.html").read_text(encoding="utf-8")
    assert 'href="r-zhejiang_wenzhou_lucheng.html"' in index
    assert 'href="r.html"' in (split_dir / "r-zhejiang_wenzhou_ouhai.html").read_text(encoding="utf-8")
    bad = facmon("report", "--format", "csv", "--split", "region", "-o", "-", env=env)
    assert bad.returncode != 0
    assert "splits the HTML report only" in bad.stderr
    wrong = facmon("report", "--split", "regions", env=env)
    assert wrong.returncode != 0
    assert "region:DEPTH" in wrong.stderr
