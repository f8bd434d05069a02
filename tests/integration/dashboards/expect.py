"""What every query of every dashboard must answer for the scenario (tests/integration/dashboards/scenario.py).

One function per (dashboard uid, where, refId); each gets the query's result and the world and asserts on the
rows. A query without an entry here fails the test, so a new panel cannot go untested.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from statistics import mean
from typing import Any

import pytest

from dashboards.common import DETAIL_UID, FLAGGED, OVERVIEW_UID, PIPELINE_UID, STATUSES
from dashboards.interpolate import TimeRange
from dashboards.runner import QueryResult
from tests.integration.dashboards import scenario
from tests.integration.dashboards.world import World

Check = Callable[[QueryResult, World, TimeRange], None]
CHECKS: dict[tuple[str, str, str], Check] = {}
DETAIL_FACILITY = "d-busy"


def check(uid: str, where: str, *ref_ids: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        for ref_id in ref_ids or ("A",):
            CHECKS[(uid, where, ref_id)] = function
        return function
    return register


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    out = {str(row[key]): row for row in rows}
    assert len(out) == len(rows), f"duplicate {key} in {rows}"
    return out


def join(left: list[dict[str, Any]], right: list[dict[str, Any]], key: str, outer: bool) -> list[dict[str, Any]]:
    """Grafana's "Join by field" transformation (outer or inner) on a column both tables have."""
    right_by = by(right, key)
    rows = [{**right_by.get(str(row[key]), {}), **row} for row in left if outer or str(row[key]) in right_by]
    if outer:
        left_keys = {str(row[key]) for row in left}
        rows += [dict(row) for k, row in right_by.items() if k not in left_keys]
    return rows


CALCULATIONS: dict[str, Callable[[list[Any]], Any]] = {
    "sum": sum, "last": lambda values: values[-1],
    "lastNotNull": lambda values: next((v for v in reversed(values) if v is not None), None),
}


def group_by(frame: list[dict[str, Any]], fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Grafana's "Group by" transformation on one frame, as a panel's JSON configures it: rows grouped on the
    groupby fields, each aggregate field present reduced and named "field (calculation)", other fields dropped."""
    keys = [name for name, spec in fields.items() if spec["operation"] == "groupby"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in frame:
        groups.setdefault(tuple(row[key] for key in keys), []).append(row)
    out = []
    for key, rows in groups.items():
        grouped = dict(zip(keys, key, strict=True))
        for name, spec in fields.items():
            if spec["operation"] == "aggregate" and name in rows[0]:
                for calc in spec["aggregations"]:
                    grouped[f"{name} ({calc})"] = CALCULATIONS[calc]([row[name] for row in rows])
        out.append(grouped)
    return out


def merge(frames: list[list[dict[str, Any]]], keys: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Grafana's "Merge" transformation for frames that share only their key fields: one row per key."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for frame in frames:
        for row in frame:
            merged.setdefault(tuple(row[key] for key in keys), {}).update(row)
    return merged


def figure(world: World, facility: str, name: str) -> Any:
    """analyze's figure for the facility, as a value to compare with (None when analyze gave none)."""
    value = world.latest[facility]["figures"].get(name)
    return None if value is None else pytest.approx(value, abs=1e-6)  # the JSON output rounds to 6 places


# -- overview ----------------------------------------------------------------------------------------------------
for index, status in enumerate(STATUSES):
    def _count(result: QueryResult, world: World, span: TimeRange, status: str = status) -> None:
        assert [row[status] for row in result.rows] == [1], result.rows
    check(OVERVIEW_UID, "panel Facilities by status", chr(ord("A") + index))(_count)


@check(OVERVIEW_UID, "panel Flagged facilities", "A", "B")
def _flagged(result: QueryResult, world: World, span: TimeRange) -> None:
    if result.ref_id == "B":  # the latest raised or outage alert's as-of date, per facility
        today = scenario.as_of(world.now)
        assert {k: row["flagged_since"] for k, row in by(result.rows, "facility").items()} == {
            "d-busy": (today - timedelta(days=5)).isoformat(), "d-idle": (today - timedelta(days=1)).isoformat(),
            "d-under": today.isoformat(), "d-silent": (today - timedelta(days=1)).isoformat()}
        return
    rows = by(result.rows, "facility")
    flagged = {f.id for f in scenario.FACILITIES if f.status in FLAGGED}
    assert set(rows) == flagged
    for fid, row in rows.items():
        facility = scenario.BY_ID[fid]
        assert (row["status"], row["region"], row["type"]) == (facility.status, world.names.region(facility),
                                                               facility.type)
        assert row["occupancy_rate"] == figure(world, fid, "occupancy_rate"), fid
        assert row["coverage"] == figure(world, fid, "coverage"), fid
        assert row["name"] == world.names.name(fid)
        assert row["reasons"] == "; ".join(world.latest[fid]["reasons"])
    assert rows["d-under"]["occupancy_rate"] == pytest.approx(0.05)
    assert rows["d-idle"]["coverage"] == pytest.approx(1.0)


@check(OVERVIEW_UID, "panel Suspect data")
def _suspect(result: QueryResult, world: World, span: TimeRange) -> None:
    """Only d-busy: ACTIVE, yet its data are flagged; the other facilities' latest points say not suspect."""
    detectors, reasons = scenario.SUSPECT
    assert [{key: value for key, value in row.items() if key != "time"} for row in result.rows] == [
        {"facility": "d-busy", "name": world.names.name("d-busy"), "status": "ACTIVE", "integrity_detectors": detectors,
         "integrity": reasons}]


@check(OVERVIEW_UID, "panel Open data-integrity alerts")
def _open_integrity(result: QueryResult, world: World, span: TimeRange) -> None:
    """d-busy's alert is open (one delivery failed); d-idle's was cleared."""
    assert [(row["facility"], row["kind"], row["status"], row["failed"], row["as_of"]) for row in result.rows] == [
        ("d-busy", "integrity", "ACTIVE", 1, scenario.as_of(world.now).isoformat())]


@check(OVERVIEW_UID, "panel Facilities on the map", "A", "B")
def _map(result: QueryResult, world: World, span: TimeRange) -> None:
    rows = by(result.rows, "facility")
    if result.ref_id == "A":
        assert {fid: row["status"] for fid, row in rows.items()} == {f.id: f.status for f in scenario.FACILITIES}
    else:
        assert {fid: (row["lat"], row["lon"]) for fid, row in rows.items()} == {
            f.id: f.location for f in scenario.FACILITIES if f.location}


@check(OVERVIEW_UID, "panel Mean occupancy by region")
def _by_region(result: QueryResult, world: World, span: TimeRange) -> None:
    _by_tag(result, world, "region")


@check(OVERVIEW_UID, "panel Mean occupancy by type")
def _by_type(result: QueryResult, world: World, span: TimeRange) -> None:
    _by_tag(result, world, "type")


def _by_tag(result: QueryResult, world: World, tag: str) -> None:
    groups: dict[str, list[float]] = {}
    for f in scenario.FACILITIES:
        rate = world.latest[f.id]["figures"].get("occupancy_rate")
        if rate is not None:
            groups.setdefault(world.names.region(f) if tag == "region" else f.type, []).append(rate)
    expected = {key: pytest.approx(mean(values), abs=1e-6) for key, values in groups.items()}
    assert {key: row["occupancy_rate"] for key, row in by(result.rows, tag).items()} == expected


@check(OVERVIEW_UID, "panel Open usage alerts")
def _open_usage(result: QueryResult, world: World, span: TimeRange) -> None:
    rows = by(result.rows, "facility")
    assert {fid: (row["kind"], row["status"], row["failed"]) for fid, row in rows.items()} == {
        "d-idle": ("reminder", "IDLE", 0), "d-under": ("raised", "UNDERUSED", 1)}
    assert rows["d-under"]["as_of"] == scenario.as_of(world.now).isoformat()


@check(OVERVIEW_UID, "panel Open sensor outages")
def _open_outages(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [(row["facility"], row["kind"], row["status"]) for row in result.rows] == [("d-silent", "outage", "NO_DATA")]


@check(OVERVIEW_UID, "panel Latest reviews")
def _reviews(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [(row["facility"], row["disposition"], row["note"], row["reviewer"]) for row in result.rows] == [
        (fid, disposition, note, "auditor-li") for fid, disposition, note, _, _ in scenario.REVIEWS]


@check(OVERVIEW_UID, "panel Facilities by status, day by day")
def _status_days(result: QueryResult, world: World, span: TimeRange) -> None:
    totals: dict[str, int] = {}
    for row in result.rows:
        totals[row["status"]] = totals.get(row["status"], 0) + row["count"]
    assert totals == {status: world.status_runs(status) for status in STATUSES}


# -- facility detail (d-busy) ------------------------------------------------------------------------------------
@check(DETAIL_UID, "panel Latest status")
def _latest_status(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [row["status"] for row in result.rows] == ["ACTIVE"]


@check(DETAIL_UID, "panel Latest figures")
def _latest_figures(result: QueryResult, world: World, span: TimeRange) -> None:
    (row,) = result.rows
    for name in ("occupancy_rate", "coverage", "peak_rate", "visits_per_open_day", "uses_per_open_day"):
        assert row[name] == figure(world, DETAIL_FACILITY, name), name
    assert row["occupancy_rate"] == pytest.approx(0.315)  # 20 + the mean local hour, 11.5, of 100


@check(DETAIL_UID, "panel Why this status")
def _why(result: QueryResult, world: World, span: TimeRange) -> None:
    (row,) = result.rows
    assert (row["name"], row["department"], row["capacity"]) == (world.names.name(DETAIL_FACILITY),
                                                                 scenario.DEPARTMENT, 100)
    assert row["reasons"] == "; ".join(world.latest[DETAIL_FACILITY]["reasons"])


@check(DETAIL_UID, "panel Data integrity")
def _integrity(result: QueryResult, world: World, span: TimeRange) -> None:
    (row,) = result.rows
    assert (row["status"], row["suspect"], row["integrity_detectors"], row["integrity"]) == (
        "ACTIVE", True, *scenario.SUSPECT)


@check(DETAIL_UID, "panel Occupancy against capacity", "A", "B")
def _occupancy(result: QueryResult, world: World, span: TimeRange) -> None:
    column = "occupancy" if result.ref_id == "A" else "capacity"
    values = [row[column] for row in result.rows if row[column] is not None]
    if column == "occupancy":  # every 15-minute interval of the week: 20 + the local hour
        assert len(values) >= 7 * 96, len(values)
        shown = [(row["time"], row[column]) for row in result.rows if row[column] is not None]
        assert shown == [(moment, scenario.busy_occupancy(moment)) for moment, _ in shown]
    else:  # hourly from the first status point (midnight UTC of the first as-of, at least 16 hours ago) on
        assert len(values) >= 16, values
        assert set(values) == {100}


for hour in range(24):
    def _hour(result: QueryResult, world: World, span: TimeRange, hour: int = hour) -> None:
        expected = 20 + hour  # door-1's 20 and door-2's local hour
        cells = [(row["time"], row[f"{hour:02d}"]) for row in result.rows]
        for moment, value in cells:
            if moment > span.to_ms:  # an hour still to come: -1, which the panel leaves blank
                assert value == -1, cells
            elif moment < span.from_ms:  # the hour the range starts in, partly before it
                assert value in (expected, -1), cells
            else:
                assert value == expected, cells
        assert sum(1 for _, value in cells if value == expected) >= 6, cells  # a complete local day each
    check(DETAIL_UID, "panel Occupancy by hour of day", f"H{hour:02d}")(_hour)


@check(DETAIL_UID, "panel Daily visits and uses")
def _daily(result: QueryResult, world: World, span: TimeRange) -> None:
    visits = [row["visits"] for row in result.rows if row["visits"] is not None]
    assert max(visits) == 288, visits  # 3 entries a quarter, 96 quarters a day
    assert all(0 < v <= 288 for v in visits), visits
    assert all(row["uses"] is None for row in result.rows)


@check(DETAIL_UID, "panel Status history")
def _history(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [row["status"] for row in result.rows] == [run[DETAIL_FACILITY]["status"] for run in world.analyses.values()]


@check(DETAIL_UID, "panel Sensors online and offline")
def _online(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [(row["sensor"], row["online"]) for row in result.rows] == [("door-1", True)]


@check(DETAIL_UID, "panel Last reading per sensor")
def _detail_last(result: QueryResult, world: World, span: TimeRange) -> None:
    now_ms = round(world.now.timestamp() * 1000)
    assert {row["sensor"]: row["time"] for row in result.rows} == {"door-1": now_ms, "door-2": now_ms}


@check(DETAIL_UID, "annotation Alerts", "")
def _alert_events(result: QueryResult, world: World, span: TimeRange) -> None:
    assert sorted(row["kind"] for row in result.rows) == ["integrity", "outage", "outage_resolved", "raised",
                                                          "resolved"]
    assert all(row["message"].startswith("d-busy is ") for row in result.rows)


@check(DETAIL_UID, "annotation Reviews", "")
def _review_events(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [(row["disposition"], row["note"]) for row in result.rows] == [("other", "Counts checked on site")]


# -- pipeline health ---------------------------------------------------------------------------------------------
#: The scenario's refusals (world.messages): two of d-busy/door-1's, out_of_range the later; one unknown facility's.
REFUSED = {"wrong_type": 1, "out_of_range": 1, "unknown_facility": 1}


@check(PIPELINE_UID, "panel Readings per minute", "A", "B")
def _flow(result: QueryResult, world: World, span: TimeRange) -> None:
    if result.ref_id == "A":
        rows = [row for row in result.rows if row["readings written"] is not None]
        assert rows
        assert all(row["readings written"] >= 0 for row in rows)
        assert {row["instance"] for row in rows} == {rows[0]["instance"]}
    else:
        assert sum(row["stored, by reading time"] for row in result.rows) > 0


@check(PIPELINE_UID, "panel Pending readings and write retries")
def _backlog(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [(row["pending"], row["write retries"]) for row in result.rows] == [(0, 0)]


@check(PIPELINE_UID, "panel Refusals by reason")
def _refusals(result: QueryResult, world: World, span: TimeRange) -> None:
    totals: dict[str, int] = {}
    for row in result.rows:
        totals[row["reason"]] = totals.get(row["reason"], 0) + row["refused"]
    assert totals == REFUSED


@check(PIPELINE_UID, "panel Refusals in the range")
def _refusal_totals(result: QueryResult, world: World, span: TimeRange) -> None:
    assert {row["reason"]: row["refused"] for row in result.rows} == REFUSED


def last_readings(world: World) -> dict[tuple[str, str], int]:
    return {(s.facility, s.sensor): round(scenario.last_reading(s, world.now).timestamp() * 1000)
            for s in scenario.SENSORS}


@check(PIPELINE_UID, "panel Sensors not heard from")
def _quiet(result: QueryResult, world: World, span: TimeRange) -> None:
    """Silent: no reading in the 15 minutes before the range's end (d-under/s2's lies in them, though in an
    earlier quarter hour counted from the epoch); for how long, in whole quarters."""
    quarter = 15 * 60_000
    expected = {key: 15 * ((span.to_ms - last) // quarter) for key, last in last_readings(world).items()
                if last < span.to_ms - quarter}
    assert expected.keys() == {("d-silent", "s1")}
    assert {(row["facility"], row["sensor"]): row["silent_minutes"] for row in result.rows} == expected


@check(PIPELINE_UID, "panel Last reading per sensor")
def _last_seen(result: QueryResult, world: World, span: TimeRange) -> None:
    assert {(row["facility"], row["sensor"]): row["time"] for row in result.rows} == last_readings(world)


def readings_24h(world: World, span: TimeRange) -> dict[tuple[str, str], int]:
    """Each sensor's readings in the 24 hours before the range's end, from what scenario.payloads sent: its
    quarter hours, and for live sensors one more at `now` itself."""
    day_ms = 86_400_000
    expected = {}
    for s in scenario.SENSORS:
        stamps = {round(item["ts"]) for batch in scenario.payloads(s, world.now) for item in batch}
        recent = [t for t in stamps if span.to_ms - day_ms <= t <= span.to_ms]
        if recent:
            expected[(s.facility, s.sensor)] = len(recent)
    return expected


@check(PIPELINE_UID, "panel Devices", "A", "B", "C", "D")
def _devices(result: QueryResult, world: World, span: TimeRange) -> None:
    """One query per source; the panel merges them (test_queries emulates Grafana's groupBy and merge)."""
    rows = {(row["facility"], row["sensor"]): {k: v for k, v in row.items() if k not in ("time", "facility", "sensor")}
            for row in result.rows}
    if result.ref_id == "A":
        got = {key: row["readings_24h"] for key, row in rows.items()}
        assert got == readings_24h(world, span), (got, readings_24h(world, span))
        assert all(row["last_received_ms"] > 0 for row in result.rows)
    elif result.ref_id == "B":  # the refusals themselves: the unknown facility's has no facility tag, left out
        assert [(row["facility"], row["sensor"], row["refusals_24h"], row["latest_reason"])
                for row in result.rows] == [
            ("d-busy", "door-1", 1, "wrong_type"), ("d-busy", "door-1", 1, "out_of_range")]
    elif result.ref_id == "C":
        assert rows == {("d-busy", "door-1"): {"online": True}, ("d-silent", "s1"): {"online": False}}
    else:
        assert rows == {scenario.REVISED: {"revisions": 1}}


@check(PIPELINE_UID, "panel Write lag", "A", "B")
def _lag(result: QueryResult, world: World, span: TimeRange) -> None:
    column = "write lag, max" if result.ref_id == "A" else "arrival delay, p95"
    values = [row[column] for row in result.rows if row[column] is not None]
    assert values
    assert all(value >= 0 for value in values)


@check(PIPELINE_UID, "panel Sensors reporting offline")
def _offline(result: QueryResult, world: World, span: TimeRange) -> None:
    assert [row["offline"] for row in result.rows] == [1]
