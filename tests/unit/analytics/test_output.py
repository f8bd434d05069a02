"""JSON, CSV and table output, and the points stored in InfluxDB, from one hand-made run."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from analytics.analysis.engine import assemble
from analytics.analysis.model import Figures, Status
from analytics.analysis.output import CSV_COLUMNS, display_width, render_csv, render_json, render_table
from analytics.analysis.rules import Rules
from analytics.analysis.store import delete_statements, status_line
from facmon.core.i18n import using
from tests.unit.analytics.helpers import facility

AS_OF = date(2025, 11, 3)
BUSY = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, coverage=1.0,
               closed_share=0.0, occupancy_rate=0.3, peak_rate=0.6, idle_day_share=0.0, reports_occupancy=True)
IDLE = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, idle_days=28, coverage=1.0,
               closed_share=0.0, occupancy_rate=0.0, peak_rate=0.0, idle_day_share=1.0, reports_occupancy=True)
QUIET = Figures(open_hours=224.0, open_days=28, coverage=0.0, closed_share=0.0)


@pytest.fixture(scope="module")
def run():
    facilities = [
        facility("a-busy", name="图书馆 Busy", department="文广旅体局"),
        facility("b-idle", name="Idle hall, \"east\"", type="sports_hall"),
        facility("c-quiet", name="Quiet"),
    ]
    found = [(BUSY, QUIET), (IDLE, IDLE), (QUIET, BUSY)]
    return assemble(facilities, found, Rules(), AS_OF, 28)


def test_json_has_the_documented_shape(run):
    data = json.loads(render_json(run))
    assert data["as_of"] == "2025-11-03"
    assert data["window_days"] == 28
    assert data["format"] == 1
    assert data["counts"] == {"EXEMPT": 0, "NO_DATA": 1, "IDLE": 1, "UNDERUSED": 0, "ACTIVE": 1}
    assert [f["facility_id"] for f in data["facilities"]] == ["b-idle", "c-quiet", "a-busy"]  # flagged first
    busy = data["facilities"][2]
    assert set(busy) >= {"facility_id", "name", "type", "region", "department", "capacity", "status", "reasons",
                         "fired", "coverage", "window", "figures", "thresholds", "previous", "change",
                         "type_percentile", "type_peers"}
    assert busy["status"] == "ACTIVE"
    assert busy["department"] == "文广旅体局"
    assert busy["name"] == "图书馆 Busy"
    assert busy["window"] == {"first_day": "2025-10-06", "last_day": "2025-11-02", "days": 28,
                              "timezone": "Asia/Shanghai"}
    assert busy["figures"]["occupancy_rate"] == 0.3
    assert busy["figures"]["visits_per_open_day"] is None
    assert busy["previous"]["window"]["first_day"] == "2025-09-08"
    assert busy["change"]["coverage"] == 1.0
    assert busy["change"]["occupancy_rate"] is None
    assert busy["type_percentile"] is None
    assert busy["type_peers"] == 0
    idle = data["facilities"][0]
    assert idle["fired"][0] == {"rule": "idle_day_share", "value": 1.0, "threshold": 0.8, "comparison": ">="}
    assert idle["reasons"][0] == "no use on 28 of 28 open days (100% ≥ 80%)"


def test_csv_has_one_row_per_facility(run):
    rows = list(csv.DictReader(io.StringIO(render_csv(run))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["facility_id"], r["status"]) for r in rows] == [
        ("b-idle", "IDLE"), ("c-quiet", "NO_DATA"), ("a-busy", "ACTIVE")]
    assert rows[0]["name"] == 'Idle hall, "east"'
    assert rows[2]["occupancy_rate"] == "0.3"
    assert rows[2]["visits_per_open_day"] == ""
    assert rows[0]["reasons"] == "no use on 28 of 28 open days (100% ≥ 80%) | mean occupancy 0% of capacity (< 10%)"


def test_table_puts_flagged_first_and_aligns_wide_characters(run):
    lines = render_table(run).splitlines()
    assert lines[0] == "as of 2025-11-03, 28 days: 1 NO_DATA, 1 IDLE, 1 ACTIVE"
    assert [line.split()[0] for line in lines[2:]] == ["IDLE", "NO_DATA", "ACTIVE"]
    reasons = ["REASON", "no use on", "sensor data in", "mean occupancy"]
    columns = {display_width(line[: line.index(reason)]) for line, reason in zip(lines[1:], reasons, strict=True)}
    assert len(columns) == 1  # 图书馆 takes two columns per character, and the reasons still line up
    assert "图书馆 Busy" in lines[4]


def test_status_points_carry_tags_figures_and_reasons(run):
    busy = next(r for r in run.facilities if r.facility_id == "a-busy")
    point = status_line(busy, AS_OF, 28)
    assert point.startswith("facility_status,facility=a-busy,region=zhejiang/wenzhou/lucheng,status=ACTIVE,"
                            "type=library ")
    assert point.endswith(" 1762128000000000000")  # 2025-11-03T00:00:00Z
    assert "occupancy_rate=0.3," in point
    assert "open_days=28i" in point
    assert "coverage=1.0" in point
    assert 'reasons="mean occupancy 30% of capacity (≥ 10%)"' in point
    assert 'department="文广旅体局"' in point
    assert "visits_per_open_day" not in point  # unknown figures are left out, never written as another type


def test_delete_statements_quote_ids_and_target_the_as_of_point():
    [statement] = delete_statements(["b", "a"], AS_OF)
    assert statement == ("DELETE FROM \"facility_status\" WHERE (\"facility\" = 'a' OR \"facility\" = 'b') "
                         "AND time = '2025-11-03T00:00:00.000000Z'")
    assert len(delete_statements([f"f{i}" for i in range(1000)], AS_OF)) == 3
    assert Status.IDLE.flagged
    assert not Status.EXEMPT.flagged


def test_the_table_speaks_chinese_with_type_names_and_the_csv_headers_follow(run):
    with using("zh_CN"):
        lines = render_table(run).splitlines()
        header = next(csv.reader(io.StringIO(render_csv(run))))
        data = json.loads(render_json(run))
    assert lines[0] == "截至 2025-11-03，共 28 天：数据缺失 1，闲置 1，正常使用 1"
    assert lines[1].split()[:4] == ["状态", "设施编号", "名称", "类型"]
    assert lines[1].rstrip().endswith("原因")
    assert [line.split()[0] for line in lines[2:]] == ["闲置", "数据缺失", "正常使用"]
    assert "全民健身中心" in lines[2]
    assert "sports_hall" not in lines[2]
    assert header[:5] == ["统计截止日", "统计天数", "设施编号", "名称", "类型"]
    assert len(header) == len(CSV_COLUMNS)
    assert data["facilities"][0]["type"] == "sports_hall"  # JSON keeps the codes
    assert data["facilities"][0]["status"] == "IDLE"


def test_the_table_takes_the_registry_type_names(run):
    lines = render_table(run, lambda code: {"sports_hall": "Gym"}.get(code, code)).splitlines()
    assert "Gym" in lines[2]
    assert "library" in lines[4]
