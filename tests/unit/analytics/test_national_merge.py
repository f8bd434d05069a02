"""The national merge of several deployments' status exports (analytics.national.merge, .view): the sum of the
parts, flagged facilities keyed by (deployment, id), the table in both languages, every refusal named at once."""

from __future__ import annotations

import json
from datetime import date

import pytest

from analytics.analysis.engine import assemble
from analytics.analysis.rules import Rules
from analytics.national.export import render_export
from analytics.national.merge import MergeError, Source, merge
from analytics.national.view import render_json, render_table
from facmon.cli.main import main
from facmon.core.i18n import using
from tests.unit.analytics.helpers import facility
from tests.unit.analytics.provinces import BUSY, FJ, ZJ, fujian, province, zhejiang


def test_two_provinces_merge_into_their_sum():
    view = merge([Source("zj.json", zhejiang()), Source("fj.json", fujian())])
    data = json.loads(render_json(view))
    assert data["total"] == {"facilities": 8, "counts": {"EXEMPT": 0, "NO_DATA": 2, "IDLE": 2, "UNDERUSED": 2,
                                                         "ACTIVE": 2}, "suspect": 2}
    assert [(d["deployment"], d["file"], d["facmon_version"], d["facilities"]) for d in data["deployments"]] == [
        ("fujian", "fj.json", "0.2.0", 4), ("zhejiang", "zj.json", "0.1.0", 4)]
    assert [r["region"] for r in data["by_region"]] == ["fujian/xiamen", "zhejiang/wenzhou"]
    assert {t["type"]: t["facilities"] for t in data["by_type"]} == {"library": 4, "sports_hall": 4}
    flagged = [(f["deployment"], f["facility_id"], f["status"]) for f in data["flagged"]]
    assert flagged == [("fujian", "fj-hall-1", "IDLE"), ("zhejiang", "zj-hall-1", "IDLE"),
                       ("fujian", "fj-hall-2", "UNDERUSED"), ("zhejiang", "zj-hall-2", "UNDERUSED"),
                       ("fujian", "fj-lib-2", "NO_DATA"), ("zhejiang", "zj-lib-2", "NO_DATA"),
                       ("fujian", "fj-lib-1", "ACTIVE"), ("zhejiang", "zj-lib-1", "ACTIVE")]  # the last two: findings
    assert data["flagged"][-1]["findings"][0]["detector"] == "flat_line"
    assert list(data["flagged"][0]) == ["deployment", "facility_id", "name", "type", "region", "status", "fired",
                                        "findings"]
    assert render_json(view).count(b'\n    {"deployment":') == 8  # one flagged facility a line
    deeper = json.loads(render_json(merge([Source("zj.json", zhejiang())], region_depth=4)))
    assert [r["region"] for r in deeper["by_region"]] == ["zhejiang/wenzhou/lucheng",
                                                          "zhejiang/wenzhou/lucheng/village"]


def test_the_table_reads_in_both_languages():
    view = merge([Source("zj.json", zhejiang()), Source("fj.json", fujian())])
    table = render_table(view)
    assert table.startswith("National view as of 2025-11-03, 28 days: 2 deployments, 8 facilities: 2 IDLE, "
                            "2 UNDERUSED, 2 NO_DATA, 2 ACTIVE; 2 DATA_SUSPECT\n")
    assert "occupancy rate 5% < 10%" in table
    assert "days without use 100% ≥ 80%" in table
    assert "DATA_SUSPECT flat_line" in table
    with using("zh_CN"):
        chinese = render_table(view)
    for words in ("闲置 2", "数据存疑 flat_line", "使用率 5% < 10%", "报送平台"):
        assert words in chinese
    for words in ("National view", "DEPLOYMENT"):
        assert words not in chinese


def test_every_problem_is_named_at_once_and_nothing_is_merged():
    exports = {
        "zj.json": zhejiang(),
        "fj.json": fujian(),
        # the same facilities under another name: a registry copied, or a facility counted by two provinces
        "zj-copy.json": render_export(province("zhejiang/wenzhou/lucheng", ZJ), "zhejiang-copy", "0.1.0"),
        # fujian again, a day later: a second export of one deployment, and another as-of date
        "fj-late.json": render_export(province("fujian/xiamen", FJ, as_of=date(2025, 11, 4)), "fujian", "0.2.0"),
        "gd.json": render_export(province("guangdong/shenzhen", tuple(f"gd-{i}" for i in range(4)), days=21),
                                 "guangdong", "0.1.0"),
        "v2.json": zhejiang().replace(b'"schema_version":1', b'"schema_version":2'),
        "cut.json": zhejiang()[:300],
        "bad.json": fujian().replace(b'"deployment":"fujian"', b'"deployment":"hainan"')
                            .replace(b'"IDLE","fired"', b'"BUSY","fired"').replace(b'"fj-lib-1"', b'"FJ lib 1"'),
    }
    sources = [Source(name, data) for name, data in exports.items()] + [Source("gone.json", None, "No such file")]
    with pytest.raises(MergeError) as caught:
        merge(sources)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert "gone.json: cannot read: No such file" in problems
    assert any(p.startswith("cut.json: not JSON") for p in problems)
    assert "v2.json: schema_version 2: this facmon reads schema_version 1 only" in text
    assert "the exports differ in schema_version: 1 (zj.json, fj.json, zj-copy.json, fj-late.json, gd.json, " \
           "bad.json); 2 (v2.json)" in text
    assert "the exports differ in as_of: 2025-11-03 (zj.json, fj.json, zj-copy.json, gd.json); 2025-11-04 " \
           "(fj-late.json)" in text
    assert "the exports differ in window days: 21 (gd.json); 28 (zj.json, fj.json, zj-copy.json, fj-late.json)" \
           in text
    assert "deployment fujian sent 2 exports (fj.json, fj-late.json)" in text
    assert "4 facility ids are in both deployment zhejiang (zj.json) and zhejiang-copy (zj-copy.json): zj-hall-1, " \
           "zj-hall-2, zj-lib-1, zj-lib-2" in text
    assert "bad.json: facilities[0] (fj-hall-1) status: must be 'EXEMPT', 'NO_DATA', 'IDLE', 'UNDERUSED' or " \
           "'ACTIVE' (got 'BUSY')" in text
    # no readable id to name it by
    assert "bad.json: facilities[2].facility_id: must match [a-z0-9][a-z0-9_-]{0,62} (got 'FJ lib 1')" in text
    assert "bad.json: counts: the header says" not in text  # a facility that is not valid is not counted twice
    assert len(problems) == 10, text
    assert str(caught.value).startswith("cannot merge the exports (10 problems):\n  ")


def test_shared_ids_are_two_facilities_when_the_operator_says_so():
    copy = render_export(province("zhejiang/wenzhou/lucheng", ZJ), "zhejiang-copy", "0.1.0")
    view = merge([Source("zj.json", zhejiang()), Source("copy.json", copy)], allow_shared_ids=True)
    assert view.total.facilities == 8
    keys = [(f.deployment, f.facility_id) for f in view.flagged]
    assert len(keys) == len(set(keys)) == 8
    assert {("zhejiang", "zj-hall-1"), ("zhejiang-copy", "zj-hall-1")} <= set(keys)


def test_nothing_to_merge_is_refused():
    with pytest.raises(MergeError) as caught:
        merge([])
    assert str(caught.value) == "cannot merge the exports (1 problem):\n  no exports to merge"


def test_the_command_writes_the_view_whole_or_leaves_the_previous_one(tmp_path, capsys):
    zj, fj, out = tmp_path / "zj.json", tmp_path / "fj.json", tmp_path / "national.json"
    zj.write_bytes(zhejiang())
    fj.write_bytes(fujian())
    assert main(["national", "merge", str(zj), str(fj), "--format", "json", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    merged = out.read_bytes()
    assert json.loads(merged)["total"]["facilities"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fj.json", "national.json", "zj.json"]  # no temporary
    code = main(["national", "merge", str(zj), str(zj), str(tmp_path / "gone.json"), "--format", "json",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert out.read_bytes() == merged  # a refused merge leaves the previous view as it was
    problems = json.loads(captured.out)
    assert problems["ok"] is False
    assert problems["problems"][0] == f"{tmp_path / 'gone.json'}: cannot read: No such file or directory"
    assert problems["problems"][1].startswith("deployment zhejiang sent 2 exports")
    assert captured.err.startswith("facmon: cannot merge the exports (2 problems):\n  ")
    assert main(["national", "merge", str(zj), str(fj)]) == 0
    assert capsys.readouterr().out.startswith("National view as of 2025-11-03, 28 days: 2 deployments, 8 facilities")


def test_a_country_with_nothing_flagged_is_valid_json():
    quiet = render_export(assemble([facility("zj-lib-1")], [(BUSY, BUSY)], Rules(), date(2025, 11, 3), 28),
                          "zhejiang", "0.1.0")
    data = json.loads(render_json(merge([Source("zj.json", quiet)])))
    assert data["flagged"] == []
    assert data["total"]["counts"]["ACTIVE"] == 1
