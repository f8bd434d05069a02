"""The simulator's generator (pure): determinism, each profile's statistical signature measured from the readings
it makes, counts that add up, and payloads the ingester's own parser accepts (or refuses, when meant to).

Figures are computed here independently of analytics/, the way docs/simulator.md defines them: 15-minute slots of
opening hours, coverage = slots with a reading, occupancy rate = mean over covered slots of the sum of the
sensors' mean occupancy / capacity, idle day = a day with data but no occupancy, entries or uses at all.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from facmon.resources import sample_county
from sensors.contract import TopicGrammar
from sensors.parse import MessageParser
from sensors.registry import Facility, Registry, load_registry, parse_registry
from sensors.simulator.plan import SimSensor, SimulationError, plan
from sensors.simulator.profiles import PROFILES, RHYTHMS, open_minutes_before, week_spans
from sensors.simulator.simulate import BAD_KINDS, Message, day_messages, messages

REPO = Path(__file__).resolve().parents[2]
COUNTY = sample_county()
FIRST_DAY = date(2026, 10, 31)  # a 28-day window ending with 2026-11-27, inside the county's renovation closure
DAYS = 28
GRAMMAR = TopicGrammar("facmon/v1")
NS = 10**9
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Opening hours per type, like the county's.
HOURS: dict[str, dict[str, list[str]]] = {
    "library": {**{d: ["08:30-11:30", "13:30-17:30", "18:30-20:30"] for d in WEEK[1:5]},
                "sat": ["08:30-17:30"], "sun": ["08:30-17:30"]},
    "cultural_hall": {d: ["14:00-17:00", "19:00-21:30"] for d in ("fri", "sat", "sun")},
    "sports_hall": {**{d: ["06:30-08:30", "17:00-22:00"] for d in WEEK[:5]}, "sat": ["08:00-22:00"],
                    "sun": ["08:00-22:00"]},
    "sports_ground": {d: ["05:30-21:30"] for d in WEEK},
    "elderly_care": {d: ["08:00-16:30"] for d in WEEK[:5]},
    "community_center": {**{d: ["08:30-11:30", "13:30-17:30"] for d in WEEK[:5]}, "sat": ["09:00-12:00"]},
}


def facility(kind: str, profile: str, capacity: int = 120, sensors: int = 1, **extra: Any) -> Facility:
    data = {"id": f"t-{kind.replace('_', '-')}", "name": "测试设施", "type": kind, "region": "zhejiang/test",
            "capacity": capacity, "opening_hours": HOURS[kind],
            "simulation": {"profile": profile, "sensors": sensors}, **extra}
    return parse_registry({"facilities": [data]}).facilities[0]


def sensors_of(*facilities: Facility) -> list[SimSensor]:
    return plan(Registry(facilities=facilities))[0]


def midnight(day: date, fac: Facility) -> int:
    return int(datetime.combine(day, time(), fac.zone).timestamp())


@dataclass
class Figures:
    open_slots: int
    closed_slots: int
    covered: int
    occupancy_rate: float | None
    observed_days: int
    idle_days: int
    outside: list[dict[str, Any]]  # readings outside opening hours, closing readings excluded

    @property
    def coverage(self) -> float:
        return self.covered / self.open_slots

    @property
    def idle_share(self) -> float:
        return self.idle_days / self.observed_days if self.observed_days else 0.0

    @property
    def closed_share(self) -> float:
        return self.closed_slots / (self.open_slots + self.closed_slots)


def figures(sensors: list[SimSensor], seed: int = 1, first: date = FIRST_DAY, days: int = DAYS,
            upload: bool = False) -> Figures:
    """The figures of a run over the window; `upload`: as a backfill sends it (late uploads at its end)."""
    fac = sensors[0].facility
    slots: dict[int, date] = {}
    closed = 0
    for k in range(days):
        day = first + timedelta(days=k)
        for span in fac.hours_on(day.weekday()):
            start = int(datetime.combine(day, span.start, fac.zone).timestamp()) // 900
            if fac.is_closure_day(day):
                closed += span.minutes // 15
            else:
                slots.update((start + i, day) for i in range(span.minutes // 15))
    start = midnight(first, fac)
    per_slot: dict[tuple[str, int], list[int]] = defaultdict(list)
    active: set[date] = set()
    outside = []
    for sensor in sensors:
        end = start + (days + 1) * 86400
        for message in messages(sensor, seed, start, end, upload_at=end if upload else None):
            for ts, reading in zip(message.times, message.readings, strict=True):
                slot = ts // 900
                if slot not in slots:
                    if ts % 900 and ts < start + days * 86400:  # closing readings fall on the quarter hour
                        outside.append(reading)
                    continue
                per_slot[(sensor.sensor, slot)].append(reading["occupancy"])
                if reading["occupancy"] or reading["entries"] or reading.get("uses"):
                    active.add(slots[slot])
    occupancy: dict[int, float] = defaultdict(float)
    for (_, slot), values in per_slot.items():
        occupancy[slot] += sum(values) / len(values)
    observed = {slots[slot] for slot in occupancy}
    rate = sum(occupancy.values()) / len(occupancy) / fac.capacity if occupancy else None
    return Figures(len(slots), closed, len(occupancy), rate, len(observed), len(observed - active), outside)


def expected_status(fig: Figures) -> str:
    """The default rules of the analytics job, as docs/simulator.md states them."""
    if fig.closed_share > 0.5:
        return "EXEMPT"
    if fig.coverage < 0.6:
        return "NO_DATA"
    if fig.idle_share >= 0.8:
        return "IDLE"
    assert fig.occupancy_rate is not None
    return "UNDERUSED" if fig.occupancy_rate < 0.1 else "ACTIVE"


PROFILE_STATUS = {"busy": "ACTIVE", "normal": "ACTIVE", "flaky": "ACTIVE", "underused": "UNDERUSED",
                  "idle": "IDLE", "night_only": "IDLE", "offline": "NO_DATA", "full_house": "ACTIVE",
                  "stable_group": "ACTIVE", "quiet": "UNDERUSED", "neighbour": "ACTIVE", "weather": "ACTIVE",
                  "weekly_class": "UNDERUSED", "outage": "ACTIVE", "buffered": "ACTIVE"}
#: Forged profiles fake use so as to look ACTIVE (tests/unit/test_simulate_forged.py checks how).
FORGED_STATUS = {"forged_flat": "ACTIVE", "forged_copy": "ACTIVE", "clone_of": "ACTIVE", "impossible": "ACTIVE",
                 "late_backfill": "ACTIVE", "forged_noisy_copy": "ACTIVE", "forged_memoryless": "ACTIVE",
                 "forged_jittered_days": "ACTIVE", "forged_digits": "ACTIVE"}
#: The forgeries the sample county holds, one facility each.
COUNTY_FORGERIES = ("clone_of", "forged_copy", "forged_digits", "forged_flat", "forged_jittered_days",
                    "forged_memoryless", "forged_noisy_copy", "impossible", "late_backfill")


@pytest.fixture(scope="module")
def county() -> Registry:
    return load_registry(COUNTY)


@pytest.fixture(scope="module")
def county_sensors(county: Registry) -> list[SimSensor]:
    sensors, warnings = plan(county)
    assert warnings == []
    return sensors


def payload_digest(sensors: list[SimSensor], seed: int, days: int = 7) -> str:
    day_messages.cache_clear()
    digest = hashlib.sha256()
    start = midnight(FIRST_DAY, sensors[0].facility)
    for sensor in sensors:
        for message in messages(sensor, seed, start, start + days * 86400, bad_rate=0.02):
            digest.update(f"{message.send_at} {message.kind} {message.facility}/{message.sensor} ".encode())
            digest.update(message.encode())
    return digest.hexdigest()


# -- determinism ---------------------------------------------------------------------------------------------
def test_same_seed_gives_the_same_payloads_and_another_seed_others(county_sensors: list[SimSensor]) -> None:
    first = payload_digest(county_sensors, seed=7)
    assert payload_digest(county_sensors, seed=7) == first
    assert payload_digest(county_sensors, seed=8) != first


def test_payloads_do_not_depend_on_the_process() -> None:
    """String hashing is randomised per process; the generator must not depend on it.

    Both digests come from processes started together, so they read the same sources and county file: compared
    with this process's digest, an edit made to the tree while the suite runs would look like a difference.
    """
    code = ("from sensors.registry import load_registry; from sensors.simulator.plan import plan; "
            "from tests.unit.test_simulate import COUNTY, payload_digest; "
            "print(payload_digest(plan(load_registry(COUNTY))[0], seed=7))")
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}) for hash_seed in ("1", "12345")]
    digests = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert len(digests[0]) == 64
    assert digests[0] == digests[1]


@pytest.mark.parametrize("profile", ["normal", "flaky", "offline", "night_only"])
def test_a_window_gives_the_same_messages_however_it_is_cut(profile: str) -> None:
    sensor = sensors_of(facility("library", profile))[0]
    start = midnight(FIRST_DAY, sensor.facility) + 3600 * 5 + 17
    end = start + 9 * 86400
    whole = messages(sensor, 3, start, end)
    cuts = [start, start + 86400 * 2 + 1234, start + 86400 * 5 + 40000, end]
    pieces = [m for a, b in itertools.pairwise(cuts) for m in messages(sensor, 3, a, b)]
    assert [m.encode() for m in pieces] == [m.encode() for m in whole]
    assert all(start <= t for m in whole for t in m.times)


# -- profiles ------------------------------------------------------------------------------------------------
def test_every_profile_is_either_honest_or_forged() -> None:
    assert sorted(PROFILE_STATUS) == sorted(name for name, p in PROFILES.items() if p.honest)
    assert sorted(FORGED_STATUS) == sorted(name for name, p in PROFILES.items() if not p.honest)


@pytest.mark.parametrize("kind", sorted(HOURS))
@pytest.mark.parametrize("profile", sorted(PROFILE_STATUS))
def test_each_profile_has_its_signature_for_each_type(kind: str, profile: str) -> None:
    fig = figures(sensors_of(facility(kind, profile, sensors=2 if kind == "library" else 1)))
    rate = fig.occupancy_rate
    if profile in ("busy", "normal", "flaky", "neighbour", "weather", "outage", "buffered"):
        assert rate is not None
        assert rate >= 0.2, rate
        assert fig.idle_share < 0.2
    if profile in ("busy", "normal", "underused", "idle", "night_only", "quiet", "neighbour", "weather",
                   "weekly_class", "buffered"):
        assert fig.coverage == 1.0
    if profile == "underused":
        assert rate is not None
        assert 0.03 <= rate <= 0.07, rate
        assert fig.idle_share < 0.5
    if profile == "idle":
        assert fig.idle_share >= 0.9
    if profile == "night_only":
        assert rate == 0.0
        assert fig.idle_share == 1.0
        assert max((r["occupancy"] for r in fig.outside), default=0) > 0
    else:
        assert fig.outside == []
    if profile == "offline":
        assert fig.coverage <= 0.35
    if profile == "flaky":
        assert fig.coverage >= 0.85
    if profile == "outage":  # two calendar days in 28 without a reading (tests/unit/test_simulate_honest.py)
        assert fig.coverage >= 0.75, fig.coverage
    if profile == "quiet":  # a visitor or two now and then, on every open day
        assert rate is not None
        assert rate < 0.02, rate
        assert fig.idle_share < 0.5
    assert expected_status(fig) == PROFILE_STATUS[profile]


def test_the_county_lands_on_the_documented_statuses(county: Registry, county_sensors: list[SimSensor]) -> None:
    by_facility: dict[str, list[SimSensor]] = defaultdict(list)
    for sensor in county_sensors:
        by_facility[sensor.facility.id].append(sensor)
    got = {fid: expected_status(figures(sensors, upload=True)) for fid, sensors in by_facility.items()}
    statuses = {**PROFILE_STATUS, **FORGED_STATUS}
    want = {f.id: "EXEMPT" if f.id == "jy-wy-gym-01" else statuses[f.simulation["profile"]] for f in county}
    assert got == want
    honest = {f.id for f in county if f.simulation["profile"] in PROFILE_STATUS}
    assert len(honest) == 62  # 60 and the two honest patterns (full_house, stable_group)
    assert sorted(f.simulation["profile"] for f in county if f.id not in honest) == sorted(COUNTY_FORGERIES)
    assert Counter(got[fid] for fid in honest) == {"ACTIVE": 49, "UNDERUSED": 6, "IDLE": 5, "NO_DATA": 1, "EXEMPT": 1}
    assert Counter(got.values()) == {"ACTIVE": 58, "UNDERUSED": 6, "IDLE": 5, "NO_DATA": 1, "EXEMPT": 1}


def test_flaky_batches_carry_the_original_ts() -> None:
    sensor = sensors_of(facility("sports_ground", "flaky"))[0]
    start = midnight(FIRST_DAY, sensor.facility)
    sent = messages(sensor, 1, start, start + 14 * 86400)
    batches = [m for m in sent if m.batch]
    assert len(batches) >= 5
    for batch in batches:
        assert len(batch.readings) >= 4
        assert batch.encode().startswith(b"[")
        assert list(batch.times) == sorted(batch.times)
        assert batch.times[-1] <= batch.send_at
        assert batch.send_at - batch.times[0] >= 3 * 900  # measured an hour or more before it was sent
        parsed = parser_for(sensor.facility).parse(GRAMMAR.reading(batch.facility, batch.sensor), batch.encode(),
                                                     batch.send_at * NS)
        assert [r.ts_ns // NS for r in parsed.readings] == list(batch.times)
    assert all(not m.batch and len(m.readings) == 1 for m in sent if m.kind == "reading" and m not in batches)
    statuses = [m.payload for m in sent if m.kind == "status"]
    assert statuses.count(b"offline") == statuses.count(b"online") >= len(batches)


def test_offline_sensors_are_silent_for_long_stretches() -> None:
    sensor = sensors_of(facility("sports_ground", "offline"))[0]
    start = midnight(FIRST_DAY, sensor.facility)
    sent = [m for m in messages(sensor, 1, start, start + DAYS * 86400) if m.kind == "reading"]
    gaps = [b.send_at - a.send_at for a, b in itertools.pairwise(sent)]
    assert max(gaps) >= 5 * 86400
    spans = week_spans(sensor.facility)
    weekly = sensor.facility.weekly_open_minutes
    assert open_minutes_before(spans, weekly, 7 * 1440 * 10 + 1) - open_minutes_before(spans, weekly, 1) == 10 * weekly


# -- counts and heartbeat ------------------------------------------------------------------------------------
def test_entries_and_exits_add_up_to_occupancy(county_sensors: list[SimSensor]) -> None:
    checked = 0
    for sensor in county_sensors:
        if sensor.profile.name in ("offline", "flaky", "impossible"):  # their gaps lose readings, so pairs are
            continue  # not consecutive; impossible's padded figures are meant not to add up
        start = midnight(FIRST_DAY, sensor.facility)
        sent = sorted((t, r) for m in messages(sensor, 1, start, start + 7 * 86400) for t, r in
                      zip(m.times, m.readings, strict=True))
        first = sent[0][1]
        previous = first["occupancy"] - first["entries"] + first["exits"]  # the window may start mid-period
        over = 0
        for _, reading in sent:
            assert min(reading["occupancy"], reading["entries"], reading["exits"], reading.get("uses", 0)) >= 0
            assert reading["occupancy"] == previous + reading["entries"] - reading["exits"], (sensor, reading)
            previous = reading["occupancy"]
            over += previous > sensor.capacity
            checked += 1
        closing = [r for t, r in sent if t % 900 == 0]
        assert closing
        assert all(r["occupancy"] == 0 for r in closing)  # every opening period ends empty
        assert over <= len(sent) * 0.02  # busy peaks may pass capacity a little
    assert checked > 10_000


@pytest.mark.parametrize(("interval", "per_slot"), [(900, 1), (300, 3)])
def test_a_reading_in_every_open_quarter_hour_and_none_on_closure_days(interval: int, per_slot: int) -> None:
    fac = facility("community_center", "idle", closures=[{"from": "2026-11-10", "to": "2026-11-12",
                                                          "reason": "维修"}])
    sensor = sensors_of(fac)[0]
    start = midnight(FIRST_DAY, fac)
    sent = messages(sensor, 1, start, start + 14 * 86400, interval)
    per: dict[int, int] = defaultdict(int)
    for m in sent:
        assert len(m.readings) == 1
        if m.times[0] % 900:  # closing readings fall on the quarter hour, outside opening hours
            per[m.times[0] // 900] += 1
    fig = figures([sensor], days=14)
    assert fig.coverage == 1.0
    assert fig.closed_slots == 3 * 7 * 4
    assert set(per.values()) == {per_slot}
    assert len(per) == fig.open_slots
    closure = {midnight(FIRST_DAY + timedelta(days=k), fac) for k in (10, 11, 12)}
    assert not [m for m in sent if any(d <= m.send_at < d + 86400 for d in closure)]


# -- payloads ------------------------------------------------------------------------------------------------
def parser_for(*facilities: Facility) -> MessageParser:
    return MessageParser(GRAMMAR, {f.id: f.capacity for f in facilities}, 35 * 86400)


def test_every_payload_passes_the_ingesters_parser(county: Registry, county_sensors: list[SimSensor]) -> None:
    parser = parser_for(*county)
    readings = accepted = over = 0
    styles = set()
    start = midnight(FIRST_DAY, county.facilities[0])
    for sensor in county_sensors:
        for message in messages(sensor, 1, start, start + DAYS * 86400):
            topic = GRAMMAR.status if message.kind == "status" else GRAMMAR.reading
            parsed = parser.parse(topic(message.facility, message.sensor), message.encode(), message.send_at * NS)
            assert parsed.refusals == [], (message, parsed.refusals)
            if message.kind == "status":
                assert parsed.status is not None
                continue
            readings += len(message.readings)
            accepted += len(parsed.readings)
            if sensor.profile.honest:  # impossible passes capacity on purpose
                over += sum(r.over_capacity for r in parsed.readings)
            assert [r.ts_ns // NS for r in parsed.readings] == list(message.times)
            styles.add(type(message.readings[0]["ts"]).__name__ + str(len(str(message.readings[0]["ts"]))))
    assert accepted == readings > 50_000
    assert over < readings * 0.002
    assert styles == {"str25", "int10", "int13"}  # RFC 3339 with offset, epoch seconds, epoch milliseconds


def test_bad_messages_are_refused_for_their_reason_and_change_nothing_else(
        county: Registry, county_sensors: list[SimSensor]) -> None:
    parser = parser_for(*county)
    start = midnight(FIRST_DAY, county.facilities[0])
    reasons: dict[str, int] = defaultdict(int)
    for sensor in county_sensors[::3]:
        plain = messages(sensor, 1, start, start + 7 * 86400)
        spiced = messages(sensor, 1, start, start + 7 * 86400, bad_rate=0.05)
        assert [m for m in spiced if m.kind != "bad"] == plain
        for message in (m for m in spiced if m.kind == "bad"):
            parsed = parser.parse(GRAMMAR.reading(message.facility, message.sensor), message.payload,
                                  message.send_at * NS)
            assert parsed.readings == []
            assert [r.reason.value for r in parsed.refusals] == [message.reason]
            reasons[message.reason] += 1
    assert set(reasons) == {kind.value for kind in BAD_KINDS}
    assert sum(reasons.values()) > 200


# -- plan --------------------------------------------------------------------------------------------------
def test_profiles_come_from_overrides_then_the_command_line_then_the_registry(county: Registry) -> None:
    def profiles(*args: Any) -> dict[str, str]:
        return {s.facility.id: s.profile.name for s in plan(county, *args)[0]}

    assert profiles()["jy-dd-fld-01"] == "offline"
    assert profiles()["jy-dd-fld-03"] == "clone_of"
    assert set(profiles("idle").values()) == {"idle"}
    mixed = profiles("idle", {"jy-dd-fld-01": "busy"})
    assert mixed["jy-dd-fld-01"] == "busy"
    assert mixed["jy-wy-lib-01"] == "idle"
    only = plan(county, None, None, {"jy-wy-lib-01", "jy-sh-cul-02"})[0]
    assert [(s.facility.id, s.sensor) for s in only] == [
        ("jy-wy-lib-01", "door-1"), ("jy-wy-lib-01", "door-2"), ("jy-wy-lib-01", "door-3"),
        ("jy-sh-cul-02", "hall-1")]
    assert sum(s.capacity for s in only[:3]) == 300


@pytest.mark.parametrize(("args", "message"), [
    (("lazy",), "unknown profile 'lazy'"),
    ((None, {"jy-nowhere": "busy"}), "no facility 'jy-nowhere'"),
    ((None, {"jy-wy-lib-01": "sleepy"}), "unknown profile 'sleepy'"),
    ((None, None, {"jy-nowhere"}), "no facility 'jy-nowhere'"),
    (("clone_of",), "clone_of copies one facility into another"),
    (("clone_of:jy-dd-fld-02",), "clone_of copies one facility into another"),
    ((None, {"jy-dd-fld-02": "clone_of"}), "needs the facility whose readings it republishes"),
    ((None, {"jy-dd-fld-02": "clone_of:jy-nowhere"}), "no facility 'jy-nowhere'"),
    ((None, {"jy-dd-fld-02": "clone_of:jy-dd-fld-02"}), "cannot be a clone of itself"),
    ((None, {"jy-dd-fld-02": "clone_of:jy-dd-fld-03"}), "jy-dd-fld-03 is itself a clone"),
    ((None, {"jy-wy-lib-01": "busy:jy-dd-fld-02"}), "only clone_of and forged_noisy_copy take a facility"),
])
def test_plan_refuses_what_the_command_line_got_wrong(county: Registry, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        plan(county, *args)


def test_registry_simulation_keys_are_checked() -> None:
    base = {"name": "x", "type": "library", "region": "r", "capacity": 10, "opening_hours": {"mon": ["09:00-10:00"]}}
    registry = parse_registry({"facilities": [
        {**base, "id": "a", "simulation": {"profile": "evening_peak", "noise": 0.1}},
        {**base, "id": "b", "simulation": {"profile": "busy", "sensors": ["east", "west"], "colour": "red"}},
    ]})
    sensors, warnings = plan(registry)
    assert [(s.facility.id, s.sensor, s.profile.name) for s in sensors] == [
        ("a", "door-1", "normal"), ("b", "east", "busy"), ("b", "west", "busy")]
    assert warnings == ["a: unknown simulation profile 'evening_peak'; using normal",
                        "b: simulation.colour is not a simulator setting; ignored"]
    for bad in (0, 51, ["Door"], ["a", "a"], "two"):
        broken = parse_registry({"facilities": [{**base, "id": "c", "simulation": {"sensors": bad}}]})
        with pytest.raises(SimulationError, match=r"c: simulation\.sensors must be"):
            plan(broken)


def test_every_type_has_a_rhythm_for_every_hour() -> None:
    for rhythm in RHYTHMS.values():
        assert len(rhythm.weekday) == len(rhythm.weekend) == 24
        assert min(rhythm.weekday + rhythm.weekend) >= 0


def test_message_encoding() -> None:
    one = Message(5, "f", "s", "reading", ({"ts": 5, "occupancy": 1},), (5,))
    assert orjson.loads(one.encode()) == {"ts": 5, "occupancy": 1}
    assert orjson.loads(one._replace(batch=True).encode()) == [{"ts": 5, "occupancy": 1}]
    assert Message(5, "f", "s", "status", payload=b"online").encode() == b"online"


# -- command line and publisher arithmetic (no broker) -----------------------------------------------------------
def test_command_line_arguments() -> None:
    from facmon.cli.simulate import register, split_profiles

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    parse = parser.parse_args
    args = parse(["simulate", "--days", "28", "--interval", "5m", "--profile", "busy", "--profile",
                  "jy-dd-fld-01=offline", "--bad-rate", "0.01", "--seed", "9"])
    assert (args.days, args.interval, args.bad_rate, args.seed) == (28.0, 300, 0.01, 9)
    assert split_profiles(args.profile) == ("busy", {"jy-dd-fld-01": "offline"})
    assert parse(["simulate"]).interval == 900
    forged = parse(["simulate", "--profile", "late_backfill", "--profile", "jy-wy-lib-01=clone_of:jy-wy-lib-02"])
    assert split_profiles(forged.profile) == ("late_backfill", {"jy-wy-lib-01": "clone_of:jy-wy-lib-02"})
    for bad in (["--interval", "7m"], ["--interval", "30s"], ["--interval", "1h"], ["--profile", "lazy"],
                ["--profile", "Bad Id=busy"], ["--bad-rate", "2"], ["--days", "-1"], ["--speed", "0"],
                ["--profile", "clone_of"], ["--profile", "a=clone_of"], ["--profile", "a=clone_of:a"],
                ["--profile", "a=clone_of:B"], ["--profile", "a=busy:b"]):
        with pytest.raises(SystemExit):
            parse(["simulate", *bad])


def test_progress_bar_and_summary_line() -> None:
    from sensors.simulator.publisher import Summary, bar

    assert bar(0, 200, 0.0, width=10) == "[..........]   0.0% 0/200 messages 0/s "
    assert bar(50, 200, 2.0, width=10) == "[##........]  25.0% 50/200 messages 25/s 6 s left"
    assert bar(200, 200, 4.0, width=10).startswith("[##########] 100.0% 200/200 messages 50/s")
    summary = Summary(readings=85_000, messages=84_000, bad=12, sensors=66, seconds=7.0)
    assert summary.line("backfill") == ("backfill: 85,000 readings in 84,000 messages (12 bad) from 66 sensors "
                                        "in 7.0 s, 12,000 messages/s")


def test_the_simulated_clock_catches_up_and_never_runs_ahead() -> None:
    from sensors.simulator.publisher import sim_to_wall

    wall0, start = 1_000_000.0, 1_000_000.0 - 3600  # an hour behind, at 60x
    assert sim_to_wall(start, start, wall0, 60) == wall0
    assert sim_to_wall(start + 1800, start, wall0, 60) == wall0 + 30
    assert sim_to_wall(start + 3600 + 600, start, wall0, 60) == start + 4200  # caught up: real time
    assert sim_to_wall(wall0 + 50, wall0, wall0, 1) == wall0 + 50


def test_the_progress_bar_never_passes_100_percent():
    """Acknowledgements of other messages (a reconnecting sensor's `online`) once drove it to 103 % (issue 17)."""
    from sensors.simulator.publisher import bar

    line = bar(206, 200, 4.0, width=10)
    assert line.startswith("[##########] 100.0% 200/200 messages")
    assert "left" not in line
