"""The demo's pure parts: what it prints from analyze's JSON, the settings it hands its children, its queries."""

from __future__ import annotations

import io
import os
import signal
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from facmon.core import i18n
from facmon.core.settings import load_settings
from facmon.demo.console import Steps, interrupts
from facmon.demo.run import window_start
from facmon.demo.stack import child_env, count_statement
from facmon.demo.view import (
    counts_line,
    dashboards_hint,
    flagged_table,
    is_flagged,
    is_suspect,
    step_line,
    suspect_table,
)
from sensors.registry import Registry

SECRET = "s3cret-pw"


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def facility(fid: str, status: str, name: str = "图书馆", **extra: object) -> dict[str, object]:
    return {"facility_id": fid, "name": name, "type": "library", "status": status, "coverage": 0.95,
            "figures": {"occupancy_rate": 0.054}, "reasons": [f"reason of {fid}", "second reason"], **extra}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("FACMON_"):
            monkeypatch.delenv(key)


# -- which facilities the tables show ------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "flagged"), [("IDLE", True), ("UNDERUSED", True), ("NO_DATA", True),
                                                 ("EXEMPT", False), ("ACTIVE", False), ("BOGUS", False)])
def test_flagged_means_someone_has_to_act(status: str, flagged: bool) -> None:
    assert is_flagged(facility("a", status)) is flagged


@pytest.mark.parametrize(("integrity", "suspect"), [
    (None, False),  # analyze without integrity checks: the key is absent
    ({"suspect": False, "detectors": [], "findings": []}, False),
    ({"suspect": True, "detectors": ["flat_line"], "findings": [{"detector": "flat_line", "reason": "r"}]}, True),
    ({"suspect": "true"}, False),  # only a JSON true counts
    ("suspect", False),
])
def test_suspect_only_when_analyze_says_so(integrity: object, suspect: bool) -> None:
    data = facility("a", "ACTIVE") if integrity is None else facility("a", "ACTIVE", integrity=integrity)
    assert is_suspect(data) is suspect


def test_the_flagged_table_has_one_aligned_row_per_flagged_facility() -> None:
    rows = [facility("jy-a", "IDLE", name="东渡镇陶村居家养老服务照料中心"), facility("jy-b", "ACTIVE"),
            facility("jy-c", "NO_DATA", name="Library", coverage=None, figures={})]
    header, *lines = flagged_table(rows)
    assert header.split()[:6] == ["FACILITY", "NAME", "TYPE", "STATUS", "OCC", "COVER"]
    assert [line.split()[0] for line in lines] == ["jy-a", "jy-c"]
    assert "…" in lines[0]  # the long name is cut, in terminal columns
    assert "5%" in lines[0].split()
    assert "95%" in lines[0].split()
    assert lines[1].split()[3:6] == ["NO_DATA", "-", "-"]
    # The main reason starts in the same terminal column on every line, CJK names included.
    starts = {width(line[:line.index(reason)]) for line, reason in
              zip([header, *lines], ["MAIN REASON", "reason of jy-a", "reason of jy-c"], strict=True)}
    assert len(starts) == 1
    assert all("second reason" not in line for line in lines)


def test_reasons_are_cut_to_the_terminal_width_only_when_there_is_one() -> None:
    long = facility("jy-a", "UNDERUSED", reasons=["x" * 300])
    assert "x" * 300 in flagged_table([long])[1]
    cut = flagged_table([long], width=120)
    assert all(width(line) <= 120 for line in cut)
    assert cut[1].endswith("…")


def test_the_suspect_table_names_the_detectors_and_the_first_finding() -> None:
    integrity = {"suspect": True, "detectors": ["clone", "late_arrival"],
                 "findings": [{"detector": "clone", "reason": "the same series as jy-b"},
                              {"detector": "late_arrival", "reason": "late"}]}
    rows = [facility("jy-a", "ACTIVE", integrity=integrity), facility("jy-b", "ACTIVE"),
            facility("jy-c", "IDLE", integrity={"suspect": False, "detectors": [], "findings": []})]
    header, *lines = suspect_table(rows)
    assert "DETECTORS" in header
    assert len(lines) == 1
    assert lines[0].split()[0] == "jy-a"
    assert "clone, late_arrival" in lines[0]
    assert lines[0].endswith("the same series as jy-b")


def test_counts_put_the_flagged_statuses_first_and_keep_zeros() -> None:
    counts = {"EXEMPT": 1, "NO_DATA": 0, "IDLE": 5, "UNDERUSED": 6, "ACTIVE": 47}
    assert counts_line(counts) == "5 IDLE, 6 UNDERUSED, 0 NO_DATA, 1 EXEMPT, 47 ACTIVE"


def test_in_chinese_the_tables_read_in_chinese_and_stay_aligned() -> None:
    integrity = {"suspect": True, "detectors": ["flat_line"], "findings": [{"detector": "flat_line", "reason": "r"}]}
    rows = [facility("jy-a", "IDLE", name="东渡镇陶村居家养老服务照料中心"), facility("jy-b", "ACTIVE"),
            facility("jy-c", "NO_DATA", name="Library", coverage=None, figures={}),
            facility("jy-d", "UNDERUSED", integrity=integrity)]
    with i18n.using("zh_CN"):
        header, *lines = flagged_table(rows)
        suspect_header, suspect = suspect_table(rows)
        counts = counts_line({"EXEMPT": 1, "NO_DATA": 0, "IDLE": 5, "UNDERUSED": 6, "ACTIVE": 47})
    assert header.split() == ["设施编号", "名称", "类型", "状态", "使用率", "数据覆盖", "主要原因"]
    assert [line.split()[3] for line in lines] == ["闲置", "数据缺失", "使用率低"]  # words, not codes
    assert [line.split()[2] for line in lines] == ["图书馆"] * 3  # the type by its name, not library
    assert lines[0].split()[4:6] == ["5%", "95%"]
    starts = {width(line[:line.index(reason)]) for line, reason in
              zip([header, *lines], ["主要原因", "reason of jy-a", "reason of jy-c", "reason of jy-d"], strict=True)}
    assert len(starts) == 1  # a title wider than its column widens the column, on every line
    assert suspect_header.split() == ["设施编号", "名称", "状态", "触发的检查", "首要发现"]
    assert suspect.split()[2:4] == ["使用率低", "flat_line"]  # the detector stays a code
    assert counts == "闲置 5，使用率低 6，数据缺失 0，暂停开放 1，正常使用 47"
    assert "flat_line" in suspect


def test_step_lines_carry_the_number_and_the_seconds() -> None:
    assert step_line(3, 7, "backfilled", 12.345) == "[3/7]  12.3 s  backfilled"
    out = io.StringIO()  # not a terminal: only the finished line, no redrawing
    steps = Steps(2, out)
    steps.start("working")
    steps.status("half way")
    steps.done("worked")
    assert out.getvalue().startswith("[1/2] ")
    assert out.getvalue().endswith(" s  worked\n")
    assert "\r" not in out.getvalue()


def test_sigterm_stops_the_demo_like_ctrl_c_until_the_teardown_begins() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with interrupts() as shield:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before os.kill returns
        shield()
        os.kill(os.getpid(), signal.SIGINT)  # ignored: the teardown must run to its end
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_the_dashboards_hint_depends_on_docker_compose() -> None:
    without, with_compose = "\n".join(dashboards_hint(False)), "\n".join(dashboards_hint(True))
    assert "facmon dashboards check" in without
    assert "no Docker" in " ".join(line.strip() for line in dashboards_hint(False))
    assert "docker compose" in with_compose
    assert "http://localhost:3000" in with_compose
    assert "facmon dashboards check" not in with_compose


# -- what the demo hands its ingester and analyze ------------------------------------------------------------------
def test_children_get_the_demo_settings_with_secrets_in_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACMON_AUDITORS", "/etc/facmon/auditors.yaml")  # a demo must never mail real auditors
    settings = load_settings({"mqtt_url": f"mqtt://ingest:{SECRET}@broker:1883", "influx_url": "http://db:8086",
                              "influx_db": "facmon_demo", "influx_user": "u", "influx_password": SECRET,
                              "registry": "/x/county.yaml", "mqtt_client_id": "facmon-demo-1"})
    env = child_env(settings)
    assert env["FACMON_MQTT_URL"] == f"mqtt://ingest:{SECRET}@broker:1883"
    assert env["FACMON_INFLUX_PASSWORD"] == SECRET
    assert env["FACMON_INFLUX_USER"] == "u"
    assert env["FACMON_INFLUX_DB"] == "facmon_demo"
    assert env["FACMON_REGISTRY"] == str(Path("/x/county.yaml"))
    assert env["FACMON_MQTT_CLIENT_ID"] == "facmon-demo-1"
    assert "FACMON_AUDITORS" not in env
    assert "FACMON_INFLUX_TOKEN" not in env
    assert all(key.startswith("FACMON_") for key in env)
    assert env["FACMON_LANGUAGE"] == "en"
    with i18n.using("zh_CN"):
        assert child_env(settings)["FACMON_LANGUAGE"] == "zh_CN"  # analyze's reasons in the demo's language


def test_the_count_query_quotes_every_value() -> None:
    start = int(datetime(2026, 10, 30, 16, tzinfo=UTC).timestamp())
    statement = count_statement(["jy-a", "o'brien"], start, start + 86400)
    assert statement.startswith('SELECT count(*) FROM "reading" WHERE ("facility" = \'jy-a\' OR ')
    assert "'o\\'brien'" in statement
    assert "time >= '2026-10-30T16:00:00.000000Z' AND time < '2026-10-31T16:00:00.000000Z'" in statement


def test_the_backfill_starts_at_the_first_local_midnight_of_the_window() -> None:
    hours = {"mon": ["09:00-17:00"]}
    registry = Registry.model_validate({"facilities": [
        {"id": "a", "name": "A", "type": "library", "region": "r", "capacity": 10, "opening_hours": hours},
        {"id": "b", "name": "B", "type": "library", "region": "r", "capacity": 10, "opening_hours": hours,
         "timezone": "Asia/Tokyo"},
    ]})
    # 28 days before 2026-11-28 is 2026-10-31; Tokyo's midnight comes an hour before Shanghai's.
    assert window_start(registry, date(2026, 11, 28)) == int(datetime(2026, 10, 30, 15, tzinfo=UTC).timestamp())
    assert window_start(registry, date(2026, 11, 28), days=1) == int(datetime(2026, 11, 26, 15, tzinfo=UTC).timestamp())


def test_the_flagged_table_names_types_as_the_registry_does() -> None:
    registry = Registry.model_validate({"types": {"library": {"zh_CN": "城市书房"}}, "facilities": [
        {"id": "jy-a", "name": "书房", "type": "library", "region": "a", "capacity": 5, "opening_hours": {}}]})
    rows = [facility("jy-a", "IDLE")]
    with i18n.using("zh_CN"):
        [_header, chinese] = flagged_table(rows, None, lambda code: registry.display_type(code, i18n.current()))
    [_header, english] = flagged_table(rows, None, lambda code: registry.display_type(code, i18n.current()))
    assert chinese.split()[2] == "城市书房"
    assert english.split()[2] == "Library"  # no English name in the registry: the built-in one
