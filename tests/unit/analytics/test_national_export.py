"""The status export a deployment sends upward (analytics.national.export): its exact keys and bytes, in every
language; files that are not exports, cut or edited; what `facmon analyze --export` needs."""

from __future__ import annotations

import json
from dataclasses import replace

import orjson

from analytics.analysis.model import Detector, Finding, Integrity
from analytics.analysis.output import render_json
from analytics.national.export import MAX_PROBLEMS, parse_export, render_export
from facmon.cli.main import main
from facmon.core.i18n import using
from tests.unit.analytics.provinces import ZJ, province, zhejiang


def test_the_export_is_codes_and_numbers_in_a_fixed_shape():
    data = json.loads(zhejiang())
    assert list(data) == ["export", "schema_version", "deployment", "facmon_version", "as_of", "window", "counts",
                          "suspect", "facilities"]
    assert data["export"] == "facmon-status"
    assert data["schema_version"] == 1
    assert data["deployment"] == "zhejiang"
    assert data["window"] == {"first_day": "2025-10-06", "last_day": "2025-11-02", "days": 28}
    assert data["counts"] == {"EXEMPT": 0, "NO_DATA": 1, "IDLE": 1, "UNDERUSED": 1, "ACTIVE": 1}
    assert data["suspect"] == 1
    assert [f["facility_id"] for f in data["facilities"]] == sorted(ZJ)  # by id, not by status
    by_id = {f["facility_id"]: f for f in data["facilities"]}
    assert by_id["zj-lib-1"] == {
        "facility_id": "zj-lib-1", "name": "图书馆 Busy", "type": "library", "region": "zhejiang/wenzhou/lucheng",
        "status": "ACTIVE", "fired": [],
        "findings": [{"detector": "flat_line", "evidence": {"days": 28, "longest_hours": 12.0, "min_days": 3,
                                                            "min_hours": 3.0, "value": 30.0}}]}
    assert by_id["zj-hall-2"]["fired"] == [{"rule": "min_occupancy_rate", "value": 0.05, "threshold": 0.1,
                                            "comparison": "<"}]
    assert by_id["zj-lib-2"]["status"] == "NO_DATA"
    # No sentence and no figure beyond the thresholds that fired: the evidence stays in the province.
    assert all(list(f) == ["facility_id", "name", "type", "region", "status", "fired", "findings"]
               for f in data["facilities"])
    assert "constant at 30" not in zhejiang().decode()


def test_the_export_is_the_same_bytes_in_every_language():
    english = zhejiang()
    with using("zh_CN"):
        chinese = zhejiang()
    assert english == chinese
    assert zhejiang() == english
    assert english.count(b"\n") == len(ZJ) + 2  # one facility a line, between the header and the closing line


def test_analyze_json_is_not_the_export_and_says_which_command_writes_one():
    parsed = parse_export(render_json(province("zhejiang/wenzhou", ZJ)).encode())
    assert parsed.export is None
    assert "`facmon analyze --export FILE` writes the export" in parsed.problems[0]


def test_a_cut_or_edited_file_is_told_from_a_small_province():
    data = json.loads(zhejiang())
    data["facilities"] = data["facilities"][:2]
    problems = parse_export(orjson.dumps(data)).problems
    assert problems == ("counts: the header says 0 EXEMPT, 1 NO_DATA, 1 IDLE, 1 UNDERUSED, 1 ACTIVE, the "
                        "facilities are 0 EXEMPT, 0 NO_DATA, 1 IDLE, 1 UNDERUSED, 0 ACTIVE",
                        "suspect: the header says 1, 0 facilities have findings")
    data = json.loads(zhejiang())
    data["facilities"].append(data["facilities"][0])
    data["counts"]["IDLE"] += 1
    assert parse_export(orjson.dumps(data)).problems == ("facilities: 1 ids appear twice: zj-hall-1",)


def test_a_file_wrong_throughout_names_the_first_problems_and_counts_the_rest():
    data = json.loads(zhejiang())
    data["facilities"] = [{**f, "status": "BUSY", "region": "Zhejiang"} for f in data["facilities"] * 10]
    problems = parse_export(orjson.dumps(data)).problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == "… and 60 more problems"


def test_export_needs_a_deployment_and_the_whole_registry(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("FACMON_DEPLOYMENT", raising=False)
    code = main(["analyze", "--export", str(tmp_path / "x.json"), "--region", "zhejiang"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--export needs the deployment's name: set FACMON_DEPLOYMENT or give --deployment" in err
    assert "--export is every facility of the deployment: leave out --facility and --region" in err
    monkeypatch.setenv("FACMON_DEPLOYMENT", "Zhejiang Province")
    assert main(["analyze", "--export", str(tmp_path / "x.json")]) == 2
    assert "invalid setting FACMON_DEPLOYMENT: must be 1-63 lowercase letters" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_every_evidence_value_a_detector_may_write_reads_back():
    run = province("zhejiang/wenzhou", ZJ)
    first, *rest = run.facilities
    odd = Finding(Detector.COUNTS_DRIFT, "", {"exact": True, "ratio": float("nan"), "same_as": "zj-lib-2", "n": 3})
    data = render_export(replace(run, facilities=(replace(first, integrity=Integrity((odd,))), *rest)), "zj", "0.1.0")
    parsed = parse_export(data)
    assert parsed.problems == ()
    assert parsed.export is not None
    findings = {f.facility_id: f.findings for f in parsed.export.facilities}
    assert findings[first.facility_id][0].evidence == {"exact": True, "n": 3, "ratio": None, "same_as": "zj-lib-2"}
