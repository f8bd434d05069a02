"""The forged simulator profiles (pure, no servers): each fakes the property its integrity detector looks for,
the honest profiles do not, and every forgery still looks ACTIVE by the status rules.

Properties are measured here from the generated messages, independently of analytics/.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from sensors.registry import Facility, Registry, load_registry, parse_registry
from sensors.simulator.plan import SimSensor, plan
from sensors.simulator.publisher import backfill_messages
from sensors.simulator.simulate import HEARTBEAT, Message, day_readings, messages
from tests.unit.test_simulate import (
    COUNTY,
    DAYS,
    FIRST_DAY,
    FORGED_STATUS,
    HOURS,
    PROFILE_STATUS,
    expected_status,
    facility,
    figures,
    midnight,
    parser_for,
    sensors_of,
)

GRAMMAR_PREFIX = "facmon/v1"
HONEST_ACTIVE = ("busy", "normal", "flaky")
FORGED_IN_COUNTY = {"forged_flat": "jy-xj-lib-03", "forged_copy": "jy-hz-eld-03", "clone_of": "jy-dd-fld-03",
                    "impossible": "jy-sh-gym-03", "late_backfill": "jy-wy-com-03"}
LONG_RUN = 8  # readings (two hours at 15 minutes): no honest sensor holds one non-zero count that long


@pytest.fixture(scope="module")
def county() -> Registry:
    return load_registry(COUNTY)


@pytest.fixture(scope="module")
def county_sensors(county: Registry) -> dict[str, list[SimSensor]]:
    by_facility: dict[str, list[SimSensor]] = defaultdict(list)
    for sensor in plan(county)[0]:
        by_facility[sensor.facility.id].append(sensor)
    return by_facility


def window_days(first: date = FIRST_DAY, days: int = DAYS) -> list[date]:
    return [first + timedelta(days=k) for k in range(days)]


def day_series(sensor: SimSensor, day: date, seed: int = 1) -> list[tuple[int, int, int]]:
    """(occupancy, entries, exits) of the day's readings, closing reading included."""
    return [(m.reading["occupancy"], m.reading["entries"], m.reading["exits"])
            for m in day_readings(sensor, seed, day.toordinal())]


def longest_flat_run(sensor: SimSensor, seed: int = 1) -> list[int]:
    """Per day of the window: the longest run of consecutive readings with one and the same non-zero occupancy."""
    longest = []
    for day in window_days():
        best, run, previous = 0, 0, None
        for item in day_readings(sensor, seed, day.toordinal()):
            value = item.reading["occupancy"]
            run = run + 1 if value == previous else 1
            previous = value
            if value:
                best = max(best, run)
        longest.append(best)
    return longest


def sent_readings(sent: list[Message]) -> list[tuple[int, dict[str, Any]]]:
    """(ts, counts) of every reading sent, in ts order; how ts was written (sensors differ) left out."""
    return sorted(((t, {k: v for k, v in r.items() if k != "ts"}) for m in sent if m.kind == "reading"
                   for t, r in zip(m.times, m.readings, strict=True)), key=lambda item: item[0])


def pair(kind: str, source_profile: str = "normal", capacity: int = 120) -> tuple[Facility, Facility]:
    """A source facility and its clone, same type, hours and capacity."""
    data = {"type": kind, "region": "zhejiang/test", "capacity": capacity, "opening_hours": HOURS[kind],
            "name": "测试设施"}
    registry = parse_registry({"facilities": [
        {**data, "id": "t-source", "simulation": {"profile": source_profile}},
        {**data, "id": "t-clone", "simulation": {"profile": "clone_of", "source": "t-source"}},
    ]})
    return registry.facilities[0], registry.facilities[1]


# -- each forgery lands on ACTIVE, with coverage to spare ----------------------------------------------------
@pytest.mark.parametrize("kind", sorted(HOURS))
@pytest.mark.parametrize("profile", sorted(FORGED_STATUS))
def test_each_forged_profile_looks_active_for_each_type(kind: str, profile: str) -> None:
    if profile == "clone_of":
        sensors = [s for s in plan(Registry(facilities=pair(kind)))[0] if s.facility.id == "t-clone"]
    else:
        sensors = sensors_of(facility(kind, profile))
    fig = figures(sensors, upload=True)
    assert fig.coverage == 1.0
    assert fig.idle_share == 0.0
    assert fig.occupancy_rate is not None
    assert fig.occupancy_rate >= 0.15
    assert expected_status(fig) == FORGED_STATUS[profile] == "ACTIVE"


def test_the_county_has_one_facility_of_each_forgery(county: Registry) -> None:
    assert {f.simulation["profile"]: f.id for f in county if f.simulation["profile"] in FORGED_STATUS} == \
        FORGED_IN_COUNTY
    assert len({f.id for f in county}) == len(county.facilities) == 65


# -- forged_flat -> flat_line ------------------------------------------------------------------------------
def test_forged_flat_holds_one_value_all_day_every_open_day(county_sensors: dict[str, list[SimSensor]]) -> None:
    sensor, = county_sensors[FORGED_IN_COUNTY["forged_flat"]]
    values = set()
    for day in window_days():
        readings = day_readings(sensor, 1, day.toordinal())
        assert readings, day  # open every day
        values |= {m.reading["occupancy"] for m in readings if not m.closing}
        assert readings[-1].closing
        assert readings[-1].reading["occupancy"] == 0
    assert len(values) == 1
    assert 0.2 * sensor.capacity <= values.pop() <= 0.45 * sensor.capacity
    assert min(longest_flat_run(sensor)) == 48  # 08:30-20:30, every quarter hour


def test_forged_flat_keeps_its_counters_consistent(county_sensors: dict[str, list[SimSensor]]) -> None:
    """Only the flat line gives it away: entries and exits still add up."""
    sensor, = county_sensors[FORGED_IN_COUNTY["forged_flat"]]
    for day in window_days()[:7]:
        previous = 0
        for occupancy, entries, exits in day_series(sensor, day):
            assert occupancy == previous + entries - exits
            previous = occupancy


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_honest_sensors_never_hold_a_non_zero_count_for_two_hours(
        county_sensors: dict[str, list[SimSensor]], seed: int) -> None:
    longest = {(s.facility.id, s.sensor): max(longest_flat_run(s, seed))
               for sensors in county_sensors.values() for s in sensors if s.profile.honest}
    assert len(longest) == 66
    assert max(longest.values()) < LONG_RUN, sorted(longest.items(), key=lambda kv: -kv[1])[:3]
    assert max(longest.values()) >= 2  # the measure itself sees runs


@pytest.mark.parametrize("kind", sorted(HOURS))
def test_full_honest_facilities_hover_below_capacity_rather_than_sit_on_it(kind: str) -> None:
    """A packed hall (demand far above capacity) is full, but its count moves."""
    sensor = sensors_of(facility(kind, "busy", capacity=30))[0]
    runs = longest_flat_run(sensor)
    assert max(runs) < LONG_RUN


# -- forged_copy -> copied_days -----------------------------------------------------------------------------
def test_forged_copy_replays_one_day_on_every_day_with_the_same_hours(
        county_sensors: dict[str, list[SimSensor]]) -> None:
    sensor, = county_sensors[FORGED_IN_COUNTY["forged_copy"]]
    open_days = [d for d in window_days() if day_readings(sensor, 1, d.toordinal())]
    assert len(open_days) == 20  # weekdays of four weeks
    vectors = {tuple(day_series(sensor, d)) for d in open_days}
    assert len(vectors) == 1
    occupancy = [o for o, _, _ in vectors.pop()]
    assert len(set(occupancy)) > 5  # a realistic day, not a flat line
    times = [[m.epoch - midnight(d, sensor.facility) for m in day_readings(sensor, 1, d.toordinal())]
             for d in open_days]
    assert all(t == times[0] for t in times)  # to the second


def test_forged_copy_templates_differ_between_hours_but_repeat_weekly() -> None:
    sensor = sensors_of(facility("library", "forged_copy"))[0]
    by_hours: dict[tuple[Any, ...], set[tuple[tuple[int, int, int], ...]]] = defaultdict(set)
    for day in window_days():
        series = tuple(day_series(sensor, day))
        if series:
            by_hours[sensor.facility.hours_on(day.weekday())].add(series)
    assert len(by_hours) == 2  # Tue-Fri split hours, weekends all day
    assert all(len(series) == 1 for series in by_hours.values())


@pytest.mark.parametrize("profile", sorted(PROFILE_STATUS))
def test_honest_days_never_repeat(profile: str) -> None:
    sensor = sensors_of(facility("sports_ground", profile))[0]
    series = [tuple(day_series(sensor, day)) for day in window_days()]
    used = [s for s in series if any(o for o, _, _ in s)]
    assert len(set(used)) == len(used)


# -- clone_of -> clone --------------------------------------------------------------------------------------
def test_the_clone_publishes_its_sources_series(county: Registry,
                                                county_sensors: dict[str, list[SimSensor]]) -> None:
    clone, = county_sensors[FORGED_IN_COUNTY["clone_of"]]
    source, = county_sensors["jy-dd-fld-02"]
    assert clone.source == source
    assert source.profile.name == "normal"  # the source itself stays honest
    start = midnight(FIRST_DAY, clone.facility)
    end = start + DAYS * 86400
    copied = sent_readings(messages(clone, 1, start, end))
    original = sent_readings(messages(source, 1, start, end))
    assert len(copied) > 1500
    assert copied == original  # same ts, same counts, verbatim
    parser = parser_for(*county)
    for message in messages(clone, 1, start, start + 86400):
        parsed = parser.parse(f"{GRAMMAR_PREFIX}/{clone.facility.id}/{clone.sensor}/reading", message.encode(),
                              message.send_at * 10**9)
        assert parsed.refusals == []
        assert {r.facility for r in parsed.readings} == {clone.facility.id}


def test_no_two_honest_facilities_share_a_series(county_sensors: dict[str, list[SimSensor]]) -> None:
    seen: dict[tuple[tuple[int, int, int], ...], str] = {}
    for fid, sensors in county_sensors.items():
        for sensor in sensors:
            if not sensor.profile.honest:
                continue
            for day in window_days()[:7]:
                series = tuple(day_series(sensor, day))
                if any(o for o, _, _ in series):
                    assert seen.setdefault(series, fid) == fid, (fid, day)


def test_a_clone_of_a_multi_sensor_facility_copies_sensor_by_sensor() -> None:
    source, clone = pair("library", "busy")
    source = source.model_copy(update={"simulation": {"profile": "busy", "sensors": 3}})
    clone = clone.model_copy(update={"simulation": {"profile": "clone_of", "source": "t-source", "sensors": 2}})
    sensors, warnings = plan(Registry(facilities=(source, clone)))
    assert warnings == []
    clones = [s for s in sensors if s.facility.id == "t-clone"]
    assert [(s.sensor, s.source.sensor if s.source else None) for s in clones] == [
        ("door-1", "door-1"), ("door-2", "door-2")]
    day = FIRST_DAY + timedelta(days=4)
    assert day_series(clones[1], day) == day_series(clones[1].source, day) != []


def test_registry_clone_settings_are_checked() -> None:
    base = {"name": "x", "type": "library", "region": "r", "capacity": 10, "opening_hours": {"mon": ["09:00-10:00"]}}
    registry = parse_registry({"facilities": [
        {**base, "id": "a", "simulation": {"profile": "clone_of"}},
        {**base, "id": "b", "simulation": {"profile": "clone_of", "source": "nowhere"}},
        {**base, "id": "c", "simulation": {"profile": "busy", "source": "a"}},
        {**base, "id": "d", "simulation": {"profile": "clone_of", "source": "e"}},
        {**base, "id": "e", "simulation": {"profile": "clone_of", "source": "c"}},
    ]})
    sensors, warnings = plan(registry)
    assert [(s.facility.id, s.profile.name, s.source and s.source.facility.id) for s in sensors] == [
        ("a", "normal", None), ("b", "normal", None), ("c", "busy", None), ("d", "normal", None),
        ("e", "clone_of", "c")]
    assert warnings == [
        "a: clone_of needs simulation.source, the id of another facility in the registry (got None); using normal",
        "b: clone_of needs simulation.source, the id of another facility in the registry (got 'nowhere'); "
        "using normal",
        "c: simulation.source is only for clone_of; ignored",
        "d: simulation.source e is itself a clone; using normal",
    ]
    only, _ = plan(registry, None, {"a": "clone_of:c"}, {"a"})
    assert [(s.facility.id, s.source and s.source.facility.id) for s in only] == [("a", "c")]


# -- impossible -> impossible_counts ------------------------------------------------------------------------
def test_impossible_counts_break_every_rule_the_detector_checks(
        county: Registry, county_sensors: dict[str, list[SimSensor]]) -> None:
    sensor, = county_sensors[FORGED_IN_COUNTY["impossible"]]
    capacity = sensor.capacity
    over, unexplained, unbalanced, closure_readings = 0, 0, 0, 0
    closure_days = [d for d in window_days() if sensor.facility.is_closure_day(d)]
    assert len(closure_days) == 2
    for day in window_days():
        series = day_series(sensor, day)
        assert series  # open every day, closures included
        previous = 0
        for occupancy, entries, exits in series:
            over += occupancy > 2 * capacity
            unexplained += abs(occupancy - previous - (entries - exits)) >= 0.4 * capacity
            previous = occupancy
        unbalanced += sum(x for _, _, x in series) - sum(e for _, e, _ in series) >= 0.4 * capacity
        if day in closure_days:
            closure_readings += sum(1 for o, e, _ in series if o or e)
    assert over >= 3
    assert unexplained >= 2 * len(window_days())  # the padding comes and goes without the counters
    assert 5 <= unbalanced <= 24  # on some days, not all
    assert closure_readings >= 20
    start = midnight(FIRST_DAY, sensor.facility)
    parser = parser_for(*county)
    flagged = 0
    for message in messages(sensor, 1, start, start + DAYS * 86400):
        parsed = parser.parse(f"{GRAMMAR_PREFIX}/{sensor.facility.id}/{sensor.sensor}/reading", message.encode(),
                              message.send_at * 10**9)
        assert parsed.refusals == []  # valid payloads: the ingester keeps them, marked over capacity
        flagged += sum(r.over_capacity for r in parsed.readings)
    assert flagged >= over


def test_honest_counts_stay_possible(county_sensors: dict[str, list[SimSensor]]) -> None:
    for sensors in county_sensors.values():
        for sensor in sensors:
            if not sensor.profile.honest:
                continue
            for day in window_days():
                series = day_series(sensor, day)
                assert not sensor.facility.is_closure_day(day) or series == []
                assert all(o <= 1.05 * sensor.capacity for o, _, _ in series)
                assert sum(x for _, _, x in series) == sum(e for _, e, _ in series)  # every day ends empty


# -- late_backfill -> late_arrival --------------------------------------------------------------------------
def silent_days(sensor: SimSensor, seed: int = 1, first: date = FIRST_DAY, days: int = DAYS) -> list[date]:
    """Open days of the window on which the sensor sent nothing when it was measured."""
    start = midnight(first, sensor.facility)
    end = start + days * 86400
    on_time = [m for m in messages(sensor, seed, start, end, upload_at=end) if not m.late]
    sent = {datetime.fromtimestamp(t, sensor.facility.zone).date() for m in on_time for t in m.times}
    return [d for d in window_days(first, days) if day_readings(sensor, seed, d.toordinal()) and d not in sent]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_late_backfill_is_silent_two_weeks_in_four(seed: int) -> None:
    sensor = sensors_of(facility("sports_ground", "late_backfill"))[0]  # open every day
    for first in (FIRST_DAY, FIRST_DAY + timedelta(days=11)):  # whatever the window
        silent = silent_days(sensor, seed, first)
        assert len(silent) == 14
        assert sum(b - a > timedelta(days=1) for a, b in itertools.pairwise(silent)) <= 1  # one stretch, or
        # the end of one and the start of the next


def test_only_the_upload_keeps_the_late_sensor_off_no_data(county_sensors: dict[str, list[SimSensor]]) -> None:
    sensor, = county_sensors[FORGED_IN_COUNTY["late_backfill"]]
    start = midnight(FIRST_DAY, sensor.facility)
    end = start + DAYS * 86400
    on_time = [m for m in messages(sensor, 1, start, end, upload_at=end) if not m.late]
    with_upload = figures([sensor], upload=True)
    assert with_upload.coverage == 1.0
    assert expected_status(with_upload) == "ACTIVE"
    live_only = len({t // 900 for m in on_time for t in m.times if t % 900}) / with_upload.open_slots
    assert live_only == 0.5  # two weeks of every four: NO_DATA without the upload, the motive
    assert len(silent_days(sensor)) == 12  # 14 days, two of them Sundays (closed)


def test_a_backfill_sends_the_silent_stretches_after_everything_else(
        county_sensors: dict[str, list[SimSensor]]) -> None:
    sensors = [s for group in county_sensors.values() for s in group]
    late_sensor, = county_sensors[FORGED_IN_COUNTY["late_backfill"]]
    start = midnight(FIRST_DAY, late_sensor.facility)
    end = start + DAYS * 86400
    order = backfill_messages(sensors, 1, start, end)
    late = [m for m in order if m.late]
    assert late
    assert order[-len(late):] == late
    assert all(m.facility == late_sensor.facility.id and m.batch and m.send_at == end for m in late)
    uploaded = [t for m in late for t in m.times]
    assert uploaded == sorted(uploaded)
    assert len(uploaded) > 200
    on_time = {t for m in order if not m.late and m.facility == late_sensor.facility.id for t in m.times}
    assert not on_time & set(uploaded)
    expected = {m.epoch for d in window_days() for m in day_readings(late_sensor, 1, d.toordinal())}
    assert on_time | set(uploaded) == expected  # nothing lost, nothing twice
    everyone_else = max(t for m in order if not m.late for t in m.times)
    assert everyone_else > max(uploaded)  # sent after readings measured later than any of its own
    assert all(not m.late for s in sensors if s.profile.name != "late_backfill"
               for m in messages(s, 1, start, end, upload_at=end))


def test_live_late_backfill_sends_each_stretch_in_a_burst_days_later() -> None:
    sensor = sensors_of(facility("sports_ground", "late_backfill"))[0]
    start = midnight(FIRST_DAY, sensor.facility)
    end = start + 56 * 86400
    sent = messages(sensor, 1, start, end)
    bursts = [m for m in sent if m.late]
    assert len(bursts) == 2  # one stretch every 28 days
    for burst in bursts:
        assert burst.batch
        assert len(burst.readings) >= 12 * 60
        assert burst.send_at - burst.times[-1] >= 86400  # uploaded after the fact
        assert burst.send_at - burst.times[0] >= 12 * 86400
        assert not any(burst.times[0] <= t <= burst.times[-1] for m in sent if not m.late for t in m.times)


@pytest.mark.parametrize("profile", ["late_backfill", "flaky"])
def test_live_windows_keep_what_was_measured_since_the_run_began(profile: str) -> None:
    """Live mode asks a quarter hour at a time; a batch sent now still carries readings of earlier quarters."""
    sensor = sensors_of(facility("sports_ground", profile))[0]
    start = midnight(FIRST_DAY, sensor.facility) + 3 * 3600 + 7
    end = start + 30 * 86400
    whole = messages(sensor, 2, start, end)
    pieces = [m for window in range(start, end, HEARTBEAT)
              for m in messages(sensor, 2, window, min(window + HEARTBEAT, end), measured_from=start)]
    assert [m.encode() for m in pieces] == [m.encode() for m in whole]
    assert sum(len(m.readings) for m in whole if m.batch) > 100
