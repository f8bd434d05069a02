"""The national roll-up's shape, end to end: two province deployments, each its own InfluxDB server and registry
(the hand-computed scenario split in two: its Wenzhou facilities are Zhejiang's, its Hangzhou ones moved to
Fujian), each analysed through the real `facmon analyze --export`, then merged by `facmon national merge`; and the
exports that must not be merged, refused all at once."""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from facmon.cli.main import main
from facmon.demo.localstack import LocalInfluxDB
from tests.conftest import _running, pinned_env
from tests.integration.analytics import scenario

pytestmark = pytest.mark.servers
FUJIAN_IDS = ("pool-closed", "pool-half", "berlin-dst")
FUJIAN_REGION = "fujian/xiamen/siming"
FLAGGED = ("IDLE", "UNDERUSED", "NO_DATA")


@dataclass(frozen=True)
class Province:
    """One deployment: its name, its own InfluxDB and database, its own registry."""

    name: str
    url: str
    database: str
    registry: Path


@dataclass(frozen=True)
class Exported:
    """What `facmon analyze --export` printed (its JSON) and wrote (the export)."""

    analysis: dict[str, Any]
    path: Path


@pytest.fixture(scope="module")
def fujian_influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfluxDB]:
    """The second province's server: deployments share nothing."""
    yield from _running(LocalInfluxDB, tmp_path_factory.mktemp("influx-fujian"))


def _facility(line: str) -> str:
    match = re.match(r"reading,facility=([^,]+),", line)
    assert match, line
    return match.group(1)


def _province(name: str, server: LocalInfluxDB, directory: Path, ids: set[str], region: str | None) -> Province:
    """A database of the province's readings only, and a registry of its facilities only."""
    database = "t_" + uuid.uuid4().hex[:12]
    server.query(f'CREATE DATABASE "{database}"')
    lines = [line for line in scenario.readings() if _facility(line) in ids]
    for start in range(0, len(lines), 20_000):
        server.write(database, "\n".join(lines[start : start + 20_000]))
    facilities = [{**spec, **({"region": region} if region else {})}
                  for spec in scenario.registry()["facilities"] if spec["id"] in ids]
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"facilities": facilities}, allow_unicode=True), encoding="utf-8")
    return Province(name, server.url, database, path)


@pytest.fixture(scope="module")
def provinces(influxdb: LocalInfluxDB, fujian_influxdb: LocalInfluxDB,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Province]:
    directory = tmp_path_factory.mktemp("provinces")
    every = {spec["id"] for spec in scenario.FACILITIES}
    return {
        "zhejiang": _province("zhejiang", influxdb, directory, every - set(FUJIAN_IDS), None),
        "fujian": _province("fujian", fujian_influxdb, directory, set(FUJIAN_IDS), FUJIAN_REGION),
    }


def run(args: list[str]) -> tuple[int, str, str]:
    """`facmon ARGS` in this process at the tests' pinned clock: exit status, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for key, value in pinned_env().items():
            patch.setenv(key, value)
        patch.delenv("FACMON_DEPLOYMENT", raising=False)
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def export(province: Province, path: Path, *extra: str, deployment: str | None = None) -> Exported:
    """`facmon analyze --export PATH --format json` on the province's own server, as its daily job runs it."""
    code, out, err = run(["analyze", "--influx-url", province.url, "--influx-db", province.database,
                          "--registry", str(province.registry), "--as-of", scenario.AS_OF.isoformat(),
                          "--format", "json", "--export", str(path), "--deployment", deployment or province.name,
                          *extra])
    assert code == 0, err
    return Exported(json.loads(out), path)


@pytest.fixture(scope="module")
def exports(provinces: dict[str, Province], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    directory = tmp_path_factory.mktemp("exports")
    return {name: export(province, directory / f"{name}.json") for name, province in provinces.items()}


def merged(*paths: Path, out: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    code, stdout, err = run(["national", "merge", *map(str, paths), "--format", "json", "--out", str(out), *extra])
    assert code == 0, err
    assert stdout == ""
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_two_provinces_roll_up_into_the_sum_of_their_parts(exports, tmp_path):
    view = merged(exports["zhejiang"].path, exports["fujian"].path, out=tmp_path / "national.json")
    parts = {name: e.analysis for name, e in exports.items()}
    assert {name: len(a["facilities"]) for name, a in parts.items()} == {"zhejiang": 8, "fujian": 3}
    assert [(d["deployment"], d["facilities"], d["counts"]) for d in view["deployments"]] == [
        (name, len(parts[name]["facilities"]), parts[name]["counts"]) for name in ("fujian", "zhejiang")]
    total = {status: sum(a["counts"][status] for a in parts.values()) for status in parts["zhejiang"]["counts"]}
    assert view["total"]["counts"] == total
    assert view["total"]["facilities"] == 11
    assert total == {"EXEMPT": 1, "NO_DATA": 2, "IDLE": 2, "UNDERUSED": 1, "ACTIVE": 5}  # the scenario's, whole
    suspect = sum(f["integrity"]["suspect"] for a in parts.values() for f in a["facilities"])
    assert suspect > 0, "the scenario should give the merge some integrity findings to carry"
    assert view["total"]["suspect"] == suspect
    for grouping in ("by_region", "by_type"):
        assert sum(row["facilities"] for row in view[grouping]) == 11
        assert {s: sum(row["counts"][s] for row in view[grouping]) for s in total} == total
    assert [row["region"] for row in view["by_region"]] == ["fujian/xiamen", "zhejiang/wenzhou"]
    # Every facility someone has to look at appears once, with its deployment, status, thresholds and findings.
    expected = {(name, f["facility_id"]): f for name, a in parts.items() for f in a["facilities"]
                if f["status"] in FLAGGED or f["integrity"]["suspect"]}
    keys = [(f["deployment"], f["facility_id"]) for f in view["flagged"]]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(expected)
    assert {"hall-idle", "hall-idle80", "comm-counts", "lib-silent", "pool-half"} <= {fid for _d, fid in keys}
    for item in view["flagged"]:
        analysed = expected[(item["deployment"], item["facility_id"])]
        assert item["status"] == analysed["status"]
        assert item["region"] == analysed["region"]
        assert item["fired"] == analysed["fired"]
        assert [f["detector"] for f in item["findings"]] == analysed["integrity"]["detectors"]
        assert [f["evidence"] for f in item["findings"]] == [
            dict(sorted(f["evidence"].items())) for f in analysed["integrity"]["findings"]]
    assert next(f for f in view["flagged"] if f["facility_id"] == "pool-half")["deployment"] == "fujian"


def test_the_table_names_each_flagged_facilitys_deployment_in_chinese(exports):
    code, out, err = run(["national", "merge", str(exports["zhejiang"].path), str(exports["fujian"].path),
                          "--lang", "zh_CN"])
    assert code == 0, err
    assert out.startswith("全国汇总，截至 2025-11-03 的 28 天：2 个报送平台，11 个设施："
                          "闲置 2，使用率低 1，数据缺失 2，暂停开放 1，正常使用 5")
    rows = {line.split()[1]: line.split()[0] for line in out.splitlines()
            if line.startswith(("zhejiang ", "fujian ")) and len(line.split()) > 6}
    assert rows["pool-half"] == "fujian"
    assert rows["hall-idle"] == "zhejiang"


def test_an_export_is_the_same_bytes_run_after_run_and_in_every_language(provinces, exports, tmp_path):
    again = export(provinces["zhejiang"], tmp_path / "again.json", "--no-store", "--lang", "zh_CN")
    assert again.path.read_bytes() == exports["zhejiang"].path.read_bytes()
    assert again.analysis["facilities"][0]["reasons"] != exports["zhejiang"].analysis["facilities"][0]["reasons"]


def test_exports_that_must_not_be_merged_are_refused_all_at_once(provinces, exports, tmp_path):
    zhejiang, fujian = exports["zhejiang"].path, exports["fujian"].path
    copy = export(provinces["zhejiang"], tmp_path / "zj-copy.json", "--no-store", deployment="zhejiang-copy").path
    late = export(provinces["fujian"], tmp_path / "fj-late.json", "--no-store", "--as-of", "2025-11-04").path
    short = export(provinces["fujian"], tmp_path / "fj-21d.json", "--no-store", "--window", "21d",
                   deployment="fujian-21d").path
    v2 = tmp_path / "v2.json"
    v2.write_bytes(zhejiang.read_bytes().replace(b'"schema_version":1', b'"schema_version":2'))
    cut = tmp_path / "cut.json"
    cut.write_bytes(zhejiang.read_bytes()[:500])
    edited = tmp_path / "edited.json"
    edited.write_bytes(fujian.read_bytes().replace(b'"deployment":"fujian"', b'"deployment":"hainan"')
                       .replace(b'"status":"NO_DATA"', b'"status":"BUSY"', 1))
    out = tmp_path / "national.json"
    out.write_text("yesterday's view\n", encoding="utf-8")
    files = [zhejiang, fujian, copy, late, short, v2, cut, edited, tmp_path / "gone.json"]
    code, stdout, err = run(["national", "merge", *map(str, files), "--format", "json", "--out", str(out)])
    assert code == 2
    assert out.read_text(encoding="utf-8") == "yesterday's view\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    problems = json.loads(stdout)["problems"]
    assert err.startswith(f"facmon: cannot merge the exports ({len(problems)} problems):\n")
    text = "\n".join(problems)
    assert f"{tmp_path / 'gone.json'}: cannot read: No such file or directory" in problems
    assert f"{cut}: not JSON" in text
    assert f"{v2}: schema_version 2: this facmon reads schema_version 1 only" in text
    assert f"the exports differ in schema_version: 1 ({zhejiang}, {fujian}, {copy}, {late}, {short}, {edited}); " \
           f"2 ({v2})" in text
    assert f"the exports differ in as_of: 2025-11-03 ({zhejiang}, {fujian}, {copy}, {short}); 2025-11-04 ({late})" \
           in text
    assert f"the exports differ in window days: 21 ({short}); 28 ({zhejiang}, {fujian}, {copy}, {late})" in text
    assert f"deployment fujian sent 2 exports ({fujian}, {late})" in text
    assert f"8 facility ids are in both deployment zhejiang ({zhejiang}) and zhejiang-copy ({copy})" in text
    assert f"3 facility ids are in both deployment fujian ({fujian}) and fujian-21d ({short}): berlin-dst, " \
           "pool-closed, pool-half" in text
    assert re.search(re.escape(str(edited)) + r": facilities\[\d\] \(pool-half\) status: must be 'EXEMPT', "
                     r"'NO_DATA', 'IDLE', 'UNDERUSED' or 'ACTIVE' \(got 'BUSY'\)", text)
    assert len(problems) == 10, text


def test_ids_shared_by_two_deployments_are_two_facilities_when_the_operator_says_so(provinces, exports, tmp_path):
    copy = export(provinces["zhejiang"], tmp_path / "zj-copy.json", "--no-store", deployment="zhejiang-copy").path
    view = merged(exports["zhejiang"].path, copy, out=tmp_path / "national.json", extra=("--allow-shared-ids",))
    assert view["key"] == ["deployment", "facility_id"]
    assert view["total"]["facilities"] == 16
    keys = [(f["deployment"], f["facility_id"]) for f in view["flagged"]]
    assert len(keys) == len(set(keys))
    assert {("zhejiang", "hall-idle"), ("zhejiang-copy", "hall-idle")} <= set(keys)
