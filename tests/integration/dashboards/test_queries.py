"""Every query of every dashboard, interpolated as Grafana would, against the scenario in a real InfluxDB."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics.alerts.auditors import parse_auditors
from dashboards import render
from dashboards.common import DETAIL_UID, OVERVIEW_UID, PIPELINE_UID
from dashboards.interpolate import Mode, TimeRange, escape_regex
from dashboards.runner import ALL, QueryResult, live_problems, resolve_variables, run_dashboard
from facmon.cli.main import main
from tests.integration.dashboards import expect, scenario, world
from tests.integration.dashboards.world import World

pytestmark = pytest.mark.servers
MODELS = {model["uid"]: model for model in render.dashboards().values()}
RANGES = {OVERVIEW_UID: (30, "d"), DETAIL_UID: (7, "d"), PIPELINE_UID: (1, "h")}
CHOSEN = {DETAIL_UID: {"facility": [expect.DETAIL_FACILITY]}}


@pytest.fixture(scope="module", params=[scenario.PINYIN, scenario.CHINESE], ids=lambda names: names.label)
def scene(request, influxdb, mosquitto, tmp_path_factory) -> Iterator[World]:
    """The scenario, its regions and names once in pinyin and English, once as a Chinese county writes them."""
    yield from world.build(influxdb, mosquitto, tmp_path_factory.mktemp("dashboards"), request.param)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def run(scene: World, uid: str, mode: Mode,
        chosen: dict[str, list[str]] | None = None) -> tuple[list[QueryResult], TimeRange]:
    time_range = TimeRange.last(now_ms(), *RANGES[uid])
    model = MODELS[uid]
    selections = resolve_variables(model, scene.clients, time_range, chosen or CHOSEN.get(uid))
    return run_dashboard(model, scene.clients, time_range, selections, mode), time_range


@pytest.mark.parametrize("mode", [Mode.BACKEND, Mode.FRONTEND], ids=lambda m: m.value)
@pytest.mark.parametrize("uid", sorted(MODELS))
def test_every_query_answers_the_scenario(scene, uid, mode):
    results, span = run(scene, uid, mode)
    failures = []
    for result in results:
        checker = expect.CHECKS.get((uid, result.where, result.ref_id))
        if checker is None:
            failures.append(f"{result.where} {result.ref_id}: no expectation in expect.py")
            continue
        if not result.rows:
            failures.append(f"{result.where} {result.ref_id}: no rows for\n    {result.query}")
            continue
        try:
            checker(result, scene, span)
        except AssertionError as exc:
            failures.append(f"{result.where} {result.ref_id}: {exc}\n    {result.query}")
    unused = {key for key in expect.CHECKS if key[0] == uid} - {(uid, r.where, r.ref_id) for r in results}
    failures += [f"expectation for a query that no longer exists: {key}" for key in sorted(unused)]
    assert not failures, "\n".join(failures)


def test_the_time_filter_reaches_influxdb_in_both_forms(scene):
    backend, _ = run(scene, PIPELINE_UID, Mode.BACKEND)
    frontend, _ = run(scene, PIPELINE_UID, Mode.FRONTEND)
    def totals(results):
        return next(r for r in results if r.where == "panel Refusals in the range").query

    assert "time >= now() - 1h and time <= now()" in totals(frontend)
    assert "ms and time <= " in totals(backend)
    assert "$" not in totals(backend)


def test_variables_chain_from_region_to_facility(scene):
    model = MODELS[OVERVIEW_UID]
    time_range = TimeRange.last(now_ms(), 30, "d")
    everything = resolve_variables(model, scene.clients, time_range)
    assert set(everything["region"].values) == {scene.names.region(f) for f in scenario.FACILITIES}
    assert set(everything["type"].values) == {f.type for f in scenario.FACILITIES}
    assert set(everything["facility"].values) == {f.id for f in scenario.FACILITIES}
    ouhai = resolve_variables(model, scene.clients, time_range, {"region": [scene.names.region(scenario.OUHAI)]})
    assert set(ouhai["type"].values) == {"sports_hall", "library"}
    assert set(ouhai["facility"].values) == {"d-idle", "d-silent"}
    halls = resolve_variables(model, scene.clients, time_range,
                              {"region": [scene.names.region(scenario.OUHAI)], "type": ["sports_hall"]})
    assert halls["facility"].values == ("d-idle",)
    detail = resolve_variables(MODELS[DETAIL_UID], scene.clients, time_range, {"facility": ["d-busy"]})
    assert detail["tz"].values == ("Asia/Shanghai",)


@pytest.mark.parametrize(("regions", "expected"), [
    ([scenario.LUCHENG], {"d-busy": "ACTIVE", "d-under": "UNDERUSED"}),
    ([scenario.LUCHENG, scenario.OUHAI], {"d-busy": "ACTIVE", "d-under": "UNDERUSED", "d-idle": "IDLE",
                                          "d-silent": "NO_DATA"}),
], ids=["one-region", "two-regions"])
def test_a_region_selection_filters_every_overview_panel(scene, regions, expected):
    chosen = [scene.names.region(r) for r in regions]
    results, _ = run(scene, OVERVIEW_UID, Mode.BACKEND, {"region": chosen})
    by_where = {(r.where, r.ref_id): r for r in results}
    escaped = [escape_regex(region) for region in chosen]  # Grafana's regex format: 浙江省\/丽水市\/缙云县
    form = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    assert f'"region" =~ /^{form}$/' in by_where[("panel Flagged facilities", "A")].query
    counts = {status: row[status] for r in results if r.where == "panel Facilities by status"
              for row in r.rows for status in row if status != "time"}
    assert counts == {status: sum(1 for s in expected.values() if s == status) for status in set(expected.values())}
    flagged = by_where[("panel Flagged facilities", "A")].rows
    assert {row["facility"]: row["status"] for row in flagged} == {
        fid: status for fid, status in expected.items() if status != "ACTIVE"}
    on_map = by_where[("panel Facilities on the map", "B")].rows
    assert {row["facility"] for row in on_map} == set(expected)
    # Reviews follow the region too; the one recorded before reviews kept their region shows only with All.
    reviews = by_where[("panel Latest reviews", "A")].rows
    assert {row["facility"] for row in reviews} == {fid for fid, *_, tagged in scenario.REVIEWS
                                                    if tagged and fid in expected}
    suspect = by_where[("panel Suspect data", "A")].rows
    assert [row["facility"] for row in suspect] == ["d-busy"]  # in Lucheng, so in both selections


def test_all_is_sent_as_one_regex_not_every_value(scene):
    """All selected: Grafana writes the custom all value `.*` unformatted, whatever the number of values."""
    for uid in (OVERVIEW_UID, PIPELINE_UID):
        results, _ = run(scene, uid, Mode.BACKEND, {"region": [ALL]})
        filtered = [r.query for r in results if '"region" =~' in r.query]
        assert filtered
        assert all('"region" =~ /^.*$/' in query for query in filtered), filtered
        values = [escape_regex(scene.names.region(f)) for f in scenario.FACILITIES] + ["d-busy"]
        assert not any(value in r.query for r in results for value in values)


@pytest.mark.parametrize("regions", [[scenario.OUHAI], [scenario.LUCHENG, scenario.OUHAI], [scenario.LUCHENG]],
                         ids=["one-region", "two-regions", "no-silent-sensor"])
def test_a_region_selection_filters_the_pipeline_panels(scene, regions):
    chosen = [scene.names.region(r) for r in regions]
    results, span = run(scene, PIPELINE_UID, Mode.BACKEND, {"region": chosen})
    by_where = {(r.where, r.ref_id): r for r in results}
    inside = {s.facility for s in scenario.SENSORS if scenario.BY_ID[s.facility].region in regions}
    last = {key: value for key, value in expect.last_readings(scene).items() if key[0] in inside}
    seen = by_where[("panel Last reading per sensor", "A")].rows
    assert {(row["facility"], row["sensor"]): row["time"] for row in seen} == last
    quiet = by_where[("panel Sensors not heard from", "A")].rows
    assert {(row["facility"], row["sensor"]) for row in quiet} == ({("d-silent", "s1")} & set(last))
    devices = by_where[("panel Devices", "A")].rows
    assert {(row["facility"], row["sensor"]) for row in devices} == {
        key for key in expect.readings_24h(scene, span) if key[0] in inside}


def test_the_raw_reading_series_read_the_last_day_of_a_long_range_only(scene):
    """Over 7 days, stored readings and arrival delay start a day before the range's end (the scenario's readings
    go back 7 days and more), and still reach up to it."""
    model = MODELS[PIPELINE_UID]
    week = TimeRange.last(now_ms(), 7, "d")
    results = run_dashboard(model, scene.clients, week, resolve_variables(model, scene.clients, week))
    day_ms = 86_400_000
    for where, column in (("panel Readings per minute", "stored, by reading time"),
                          ("panel Write lag", "arrival delay, p95")):
        (raw,) = [r for r in results if (r.where, r.ref_id) == (where, "B")]
        times = [row["time"] for row in raw.rows if row[column]]
        assert times, raw.query
        interval_ms = raw.rows[1]["time"] - raw.rows[0]["time"]
        assert week.to_ms - day_ms - interval_ms <= min(times), (where, raw.query)
        assert max(times) >= week.to_ms - day_ms / 4, where


@pytest.mark.parametrize("facilities", [["d-idle"], ["d-idle", "d-under"]], ids=["one-facility", "two-facilities"])
def test_a_facility_selection_filters_the_overview(scene, facilities):
    results, _ = run(scene, OVERVIEW_UID, Mode.BACKEND, {"facility": facilities})
    by_where = {(r.where, r.ref_id): r for r in results}
    flagged = by_where[("panel Flagged facilities", "A")].rows
    assert {row["facility"] for row in flagged} == set(facilities)
    reviews = by_where[("panel Latest reviews", "A")].rows
    assert {row["facility"] for row in reviews} == {fid for fid, *_ in scenario.REVIEWS} & set(facilities)
    on_map = by_where[("panel Facilities on the map", "A")].rows
    assert {row["facility"] for row in on_map} == set(facilities)


def test_an_alerts_evidence_link_opens_the_overview_on_the_facilitys_region(scene):
    """The auditors' evidence_url with {region}: the link is ASCII (percent-encoded, a mail program links all of
    it), Grafana decodes var-region into the variable, and the overview then shows that region's facilities."""
    people = parse_auditors({"auditors": [{"id": "a", "name": "审计局", "regions": ["*"], "email": "a@example.org"}],
                             "evidence_url": f"https://grafana.example/d/{OVERVIEW_UID}?var-region={{region}}"})
    region = scene.names.region(scenario.BY_ID["d-idle"])
    link = people.evidence_link("d-idle", scenario.as_of(scene.now).isoformat(), region, "IDLE")
    assert link is not None
    assert link.isascii(), link
    chosen = {name.removeprefix("var-"): values for name, values in parse_qs(urlsplit(link).query).items()}
    assert chosen == {"region": [region]}
    results, _ = run(scene, OVERVIEW_UID, Mode.BACKEND, chosen)
    flagged = next(r for r in results if (r.where, r.ref_id) == ("panel Flagged facilities", "A"))
    assert {row["facility"]: row["region"] for row in flagged.rows} == {"d-idle": region, "d-silent": region}


def test_the_grafana_joins_give_one_row_per_facility(scene):
    """The flagged table and the map join two queries in Grafana ("Join by field"); done here the same way."""
    results, _ = run(scene, OVERVIEW_UID, Mode.BACKEND)
    by_where = {(r.where, r.ref_id): r.rows for r in results}
    flagged = expect.join(by_where[("panel Flagged facilities", "A")], by_where[("panel Flagged facilities", "B")],
                          "facility", outer=True)
    shown = {row["facility"]: row.get("flagged_since") for row in flagged if row.get("status") is not None}
    today = scenario.as_of(scene.now)
    assert shown == {"d-idle": str(today.fromordinal(today.toordinal() - 1)),
                     "d-silent": str(today.fromordinal(today.toordinal() - 1)), "d-under": today.isoformat()}
    placed = expect.join(by_where[("panel Facilities on the map", "A")],
                         by_where[("panel Facilities on the map", "B")], "facility", outer=False)
    assert {row["facility"]: (row["status"], row["lat"], row["lon"]) for row in placed} == {
        f.id: (f.status, *f.location) for f in scenario.FACILITIES if f.location}


def test_the_devices_table_merges_its_four_queries_into_one_row_per_sensor(scene):
    """Grafana's groupBy then merge, configured as the panel's JSON says, give `facmon devices` in short."""
    results, span = run(scene, PIPELINE_UID, Mode.BACKEND)
    frames = [r.rows for r in results if r.where == "panel Devices"]
    assert len(frames) == 4
    panel = next(p for p in MODELS[PIPELINE_UID]["panels"] if p["title"] == "Devices")
    group, merged, organize = panel["transformations"]
    assert (group["id"], merged["id"], organize["id"]) == ("groupBy", "merge", "organize")
    table = expect.merge([expect.group_by(frame, group["options"]["fields"]) for frame in frames],
                         ("facility", "sensor"))
    renamed = {key: {organize["options"]["renameByName"][name]: value for name, value in row.items()}
               for key, row in table.items()}
    assert all(set(row) <= set(organize["options"]["renameByName"].values()) for row in renamed.values())
    counts = expect.readings_24h(scene, span)
    assert set(renamed) == set(counts) | {("d-silent", "s1")}  # silent for days, yet its Last Will is shown
    shown = {key: (row.get("Readings in 24 h"), row.get("Refusals in 24 h"), row.get("Latest refusal reason"),
                   row.get("Last status"), row.get("Revisions")) for key, row in renamed.items()}
    assert shown[("d-busy", "door-1")] == (counts[("d-busy", "door-1")], 2, "out_of_range", True, None)
    assert shown[scenario.REVISED] == (counts[scenario.REVISED], None, None, None, 1)
    assert shown[("d-silent", "s1")] == (None, None, None, False, None)
    assert shown[("d-under", "s2")] == (1, None, None, None, None)


def test_check_live_runs_every_query_on_the_database(scene, influxdb, capsys):
    args = ["dashboards", "check", "--live", "--influx-url", influxdb.url, "--influx-db", scene.database]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "up to date" in err
    # At the default 6 hours the counters' rate needs them in two 20-second intervals; the scenario's
    # ingester ran for only some seconds, so that one query may find nothing.
    empty = [line for line in err.splitlines() if line.startswith("no data")]
    assert set(empty) <= {"no data (yet?): facmon — pipeline health: panel Readings per minute A"}


def test_check_live_reports_an_empty_database_and_a_refused_query(scene, influxdb, capsys):
    empty = "t_empty_" + uuid.uuid4().hex[:8]
    for name in (empty, f"{empty}_evidence"):
        influxdb.query(f'CREATE DATABASE "{name}"')
    try:
        assert main(["dashboards", "check", "--live", "--influx-url", influxdb.url, "--influx-db", empty]) == 0
        assert "no data (yet?): facmon — utilization overview: panel Flagged facilities A" in capsys.readouterr().err
        model = json.loads(json.dumps(MODELS[PIPELINE_UID]))
        model["panels"][0]["targets"][0]["query"] = 'SELECT nosuchfunction("x") FROM "reading"'
        errors, _ = live_problems(model, scene.clients, now_ms())
        assert len(errors) == 1
        assert errors[0].startswith("facmon — pipeline health: panel Readings per minute A: query failed")
    finally:
        for name in (empty, f"{empty}_evidence"):
            influxdb.query(f'DROP DATABASE "{name}"')
