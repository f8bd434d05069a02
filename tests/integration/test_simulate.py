"""`facmon simulate` against a real Mosquitto, with a real ingester (in a thread, as facmon/demo/run.py runs it) writing
to a real InfluxDB: every reading the simulator reports arrives as a point, every bad message as a refusal, and
the sensors' status topics say online, then offline, whether they stop cleanly or die (Last Will). The sample
county's 28 days, analysed by `facmon analyze`, land on the statuses docs/simulator.md documents.

The simulator and the ingester share one pinned clock (tests.conftest.TEST_NOW): "the past two days until now"
is the same two days at every run, whatever the machine's date, hour or zone.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.cli.main import main
from facmon.core.settings import Settings, load_settings
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from facmon.resources import sample_county
from ingest.service import Ingester
from sensors.registry import load_registry
from sensors.simulator.plan import plan
from sensors.simulator.publisher import Fleet, backfill, backfill_messages
from tests.conftest import TEST_NOW
from tests.integration.ingester import InfluxReader, unique, wait_until

pytestmark = pytest.mark.servers

REPO = Path(__file__).resolve().parents[2]
ALL_DAY = "{" + ", ".join(f'{d}: ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + "}"
#: Open around the clock, so the readings of any two days (or hours) do not depend on when the test runs.
REGISTRY = f"""\
facilities:
  - {{id: sim-lib, name: 模拟图书馆, type: library, region: zhejiang/test, capacity: 80,
      opening_hours: {ALL_DAY}, simulation: {{profile: busy, sensors: 2}}}}
  - {{id: sim-hall, name: 模拟文化礼堂, type: cultural_hall, region: zhejiang/test, capacity: 200,
      opening_hours: {ALL_DAY}, simulation: {{profile: underused}}}}
  - {{id: sim-care, name: 模拟照料中心, type: elderly_care, region: zhejiang/test, capacity: 40,
      opening_hours: {ALL_DAY}, simulation: {{profile: flaky}}}}
"""
COUNTY = sample_county()
COUNTY_AS_OF = date(2026, 11, 28)  # the window docs/simulator.md's table is for (the renovation's dates are fixed)
SUMMARY = re.compile(r"(backfill|live)(?: \(interrupted\))?: ([\d,]+) readings in ([\d,]+) messages \(([\d,]+) bad\)")


def number(text: str) -> int:
    return int(text.replace(",", ""))


@dataclass
class Stack:
    prefix: str
    registry: Path
    mosquitto: LocalMosquitto
    influx: InfluxReader
    settings: Settings
    now: datetime

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "facmon", "simulate", "--registry", str(self.registry),
                "--mqtt-url", self.mosquitto.url, "--topic-prefix", self.prefix, "--now", self.now.isoformat(), *args]

    @staticmethod
    def env() -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True, env=self.env(), cwd=REPO,
                              timeout=60, check=False)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(), cwd=REPO)


@contextmanager
def running_stack(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, database: str, registry: Path,
                  now: datetime = TEST_NOW, **extra: str) -> Iterator[Stack]:
    """An ingester for `registry` in a thread, writing to `database`, on a topic prefix of its own, its clock
    pinned at `now` (the simulator it runs with gets the same --now)."""
    prefix = unique("t") + "/v1"
    settings = load_settings({"mqtt_url": mosquitto.url, "influx_url": influxdb.url, "influx_db": database,
                              "registry": str(registry), "topic_prefix": prefix, "stats_interval": 3600,
                              "mqtt_client_id": unique("ingest-"), "now": now, **extra})
    ingester = Ingester(settings, load_registry(registry))
    stop = threading.Event()
    runner = threading.Thread(target=ingester.run, args=(stop,), daemon=True)
    runner.start()
    assert ingester.connected.wait(15), "the ingester did not connect"
    try:
        yield Stack(prefix, registry, mosquitto, InfluxReader(influxdb.url, database), settings, now)
    finally:
        # The ingester's writer thread keeps its InfluxDB connection in a thread-local that shutdown() cannot
        # close (facmon/core/influx.py); in-process, the socket is only reclaimed when that thread ends.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            stop.set()
            runner.join(30)
            ingester._writer.join(30)
            gc.collect()


@pytest.fixture
def stack(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path) -> Iterator[Stack]:
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    with running_stack(mosquitto, influxdb, influx_db_name, registry) as running:
        yield running


class StatusWatcher:
    """Every message on the status topics under the prefix, retained or not, in order of arrival."""

    def __init__(self, mosquitto: LocalMosquitto, prefix: str) -> None:
        self.seen: list[tuple[str, str, bool]] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("watch-"))
        self.client.on_message = lambda c, u, m: self.seen.append((m.topic.split("/")[-2], m.payload.decode(),
                                                                   bool(m.retain)))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(mosquitto.host, mosquitto.port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/+/+/status", qos=1)
        assert subscribed.wait(10)

    def last(self) -> dict[str, str]:
        return {sensor: payload for sensor, payload, _ in self.seen}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(mosquitto: LocalMosquitto, prefix: str, count: int) -> dict[str, str]:
    """What a newcomer is told about each sensor: the retained status messages."""
    watcher = StatusWatcher(mosquitto, prefix)
    try:
        wait_until(lambda: len(watcher.seen) >= count, 10, what=f"{count} retained statuses")
        assert all(kept for _, _, kept in watcher.seen)
        return watcher.last()
    finally:
        watcher.close()


def days_with_an_upload(registry: Path, seed: int, bad_rate: float, now: datetime) -> int:
    """The fewest days back from `now` (two at least) in which the flaky sensor's plan holds a store-and-forward
    array: on a given day it may have no gap, or lose its buffer, so two days are not always enough."""
    sensors, _ = plan(load_registry(registry))
    end = int(now.timestamp())
    for days in range(2, 15):
        if any(m.batch for m in backfill_messages(sensors, seed, end - days * 86400, end, bad_rate=bad_rate)):
            return days
    raise AssertionError(f"no store-and-forward upload planned in the 14 days before {now}")


def test_backfill_arrives_whole_and_bad_messages_are_refused(stack: Stack) -> None:
    days = days_with_an_upload(stack.registry, 5, 0.03, stack.now)
    result = stack.run("--days", str(days), "--bad-rate", "0.03", "--seed", "5")
    assert result.returncode == 0, result.stderr
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    readings, sent, bad = (number(match.group(i)) for i in (2, 3, 4))
    assert match.group(1) == "backfill"
    # Four sensors, `days` days of quarter hours (48 h may hold 193 readings a sensor, as each comes 1-45 s after
    # its quarter) and the closing readings at the midnights.
    assert 4 * days * 96 * 0.85 < readings <= 4 * (days * 96 + 1 + days)
    assert sent - bad < readings  # the flaky sensor sent store-and-forward arrays (bad messages hold no reading)
    assert bad > 5
    stack.influx.wait_points("reading", readings, timeout=30)
    refusals = wait_until(lambda: len(stack.influx.points("refusal")) >= bad and stack.influx.points("refusal"),
                          30, what=f"{bad} refusals")
    assert len(refusals) == bad
    assert {row["reason"] for row in refusals} <= {"wrong_type", "unknown_field", "out_of_range", "ts_in_future",
                                                     "bad_json"}
    per_facility = {f: stack.influx.count("reading", f"facility = '{f}'") for f in ("sim-lib", "sim-hall", "sim-care")}
    assert per_facility["sim-lib"] > per_facility["sim-hall"] > 0
    assert sum(per_facility.values()) == readings
    assert retained(stack.mosquitto, stack.prefix, 4) == dict.fromkeys(("door-1", "door-2", "hall-1", "room-1"),
                                                                       "offline")


def test_the_same_seed_writes_the_same_points(stack: Stack) -> None:
    first = stack.run("--days", "0.5", "--facility", "sim-lib", "--seed", "3")
    assert first.returncode == 0, first.stderr
    count = number(SUMMARY.search(first.stdout).group(2))
    before = stack.influx.wait_points("reading", count, timeout=30)
    again = stack.run("--days", "0.5", "--facility", "sim-lib", "--seed", "3")
    assert again.returncode == 0, again.stderr
    # With the same --now a rerun sends exactly the same readings: the same points (same facility, sensor and
    # ts, same values) are written again, and nothing new.
    assert number(SUMMARY.search(again.stdout).group(2)) == count > 0
    after = settled_points(stack.influx, len(before))
    old = {(p["sensor"], p["time"]): p["occupancy"] for p in before}
    new = {(p["sensor"], p["time"]): p["occupancy"] for p in after}
    assert new == old
    assert max(p["time"] for p in after) <= stack.now.timestamp() * 1e9  # measured until --now, not the wall clock


def settled_points(influx: InfluxReader, at_least: int) -> list[dict[str, Any]]:
    """The reading points once at least `at_least` are there and a second passes without a new one."""
    seen: list[list[dict[str, Any]]] = [[]]

    def settled() -> bool:
        rows = influx.points("reading")
        done = len(rows) >= at_least and len(rows) == len(seen[-1])
        seen.append(rows)
        return done

    wait_until(settled, 30, interval=1.0, what=f"{at_least} or more points, settled")
    return seen[-1]


def test_live_mode_catches_up_then_stops_cleanly(stack: Stack) -> None:
    watcher = StatusWatcher(stack.mosquitto, stack.prefix)
    try:
        result = stack.run("--speed", "3600", "--since", "2h", "--duration", "4s", "--facility", "sim-lib")
        assert result.returncode == 0, result.stderr
        match = SUMMARY.search(result.stdout)
        assert match, result.stdout
        assert match.group(1) == "live"
        readings = number(match.group(2))
        assert 2 * 7 <= readings <= 2 * 10  # two hours of quarter hours, two sensors (+ closing at midnight)
        stack.influx.wait_points("reading", readings, timeout=20)
        wait_until(lambda: watcher.last() == {"door-1": "offline", "door-2": "offline"}, 10, what="offline")
        assert [(s, p) for s, p, _ in watcher.seen].count(("door-1", "online")) == 1
    finally:
        watcher.close()
    changes = wait_until(lambda: len(stack.influx.points("sensor_status")) >= 4 and
                         stack.influx.points("sensor_status"), 20, what="four status changes")
    assert sorted((row["sensor"], row["online"]) for row in changes) == [
        ("door-1", False), ("door-1", True), ("door-2", False), ("door-2", True)]


def test_a_killed_simulator_leaves_its_last_will(stack: Stack) -> None:
    watcher = StatusWatcher(stack.mosquitto, stack.prefix)
    process = stack.start("--facility", "sim-hall")
    try:
        wait_until(lambda: watcher.last() == {"hall-1": "online"}, 15, what="online")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        wait_until(lambda: watcher.last() == {"hall-1": "offline"}, 15, what="the Last Will")
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        watcher.close()
    assert retained(stack.mosquitto, stack.prefix, 1) == {"hall-1": "offline"}


def test_a_broker_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "facmon", "simulate", "--registry", str(registry),
                             "--mqtt-url", "mqtt://127.0.0.1:1", "--days", "1"], capture_output=True, text=True,
                            env=Stack.env(), cwd=REPO, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("facmon: cannot connect to mqtt://127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1


def county_now() -> datetime:
    """The ingester's "now" for a backfill of the 28 days before COUNTY_AS_OF: an hour after they end."""
    zone = load_registry(COUNTY).facilities[0].zone
    return datetime.combine(COUNTY_AS_OF, time(1), zone)


def county_statuses() -> dict[str, str]:
    """docs/simulator.md's table: the status each facility of the sample county lands on."""
    status = {"busy": "ACTIVE", "normal": "ACTIVE", "flaky": "ACTIVE", "underused": "UNDERUSED", "idle": "IDLE",
              "night_only": "IDLE", "offline": "NO_DATA", "forged_flat": "ACTIVE", "forged_copy": "ACTIVE",
              "clone_of": "ACTIVE", "impossible": "ACTIVE", "late_backfill": "ACTIVE"}
    return {f.id: "EXEMPT" if f.id == "jy-wy-gym-01" else status[f.simulation["profile"]]
            for f in load_registry(COUNTY)}


def test_the_county_backfill_and_analyze_give_the_documented_statuses(
        mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The 28 days before COUNTY_AS_OF, whenever the test runs: the simulator's publisher is given the window,
    and the ingester's clock is pinned an hour after it. late_backfill's upload comes last, and still counts."""
    sensors, warnings = plan(load_registry(COUNTY))
    assert warnings == []
    zone = sensors[0].facility.zone
    end = int(datetime.combine(COUNTY_AS_OF, time(), zone).timestamp())
    start = end - 28 * 86400
    with running_stack(mosquitto, influxdb, influx_db_name, COUNTY, county_now()) as running:
        arrivals = ArrivalWatcher(mosquitto, running.prefix)
        fleet = Fleet(running.settings, sensors, client_prefix=unique("county-"))
        fleet.connect()
        try:
            summary = backfill(fleet, sensors, 1, start, end)
        finally:
            fleet.close()
        wait_until(lambda: int(running.influx.scalar('SELECT count("seq") FROM "reading"') or 0) >= summary.readings,
                   120, interval=0.5, what=f"{summary.readings} readings")
        wait_until(lambda: len(arrivals.seen) >= summary.messages, 60, interval=0.2,
                   what=f"{summary.messages} messages at the watcher")  # it may trail the ingester
        arrived = arrivals.close()
    assert summary.readings > 55_000
    assert len(arrived) == summary.messages
    assert int(running.influx.scalar('SELECT count("seq") FROM "reading"')) == summary.readings
    late = [i for i, facility in enumerate(arrived) if facility == "jy-wy-com-03-late"]
    assert late
    assert late == list(range(len(arrived) - len(late), len(arrived)))  # the upload came after everything else
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(COUNTY),
                 "--as-of", COUNTY_AS_OF.isoformat(), "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    got = {f["facility_id"]: f["status"] for f in json.loads(out.out)["facilities"]}
    assert got == county_statuses()


class ArrivalWatcher:
    """The facility of every reading message under the prefix, in order of arrival; a batch that carries readings
    measured more than a day before it arrived is marked `-late`."""

    def __init__(self, mosquitto: LocalMosquitto, prefix: str) -> None:
        self.seen: list[str] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("arrive-"))
        self.client.on_message = lambda c, u, m: self.seen.append(self._label(m.topic, m.payload))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(mosquitto.host, mosquitto.port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/+/+/reading", qos=1)
        assert subscribed.wait(10)

    @staticmethod
    def _label(topic: str, payload: bytes) -> str:
        facility = topic.split("/")[-3]
        data = json.loads(payload)
        return f"{facility}-late" if isinstance(data, list) and len(data) > 96 else facility

    def close(self) -> list[str]:
        self.client.disconnect()
        self.client.loop_stop()
        return self.seen
