"""Builds the scenario in a real InfluxDB: the real ingester takes the readings from a real Mosquitto, `facmon
analyze` classifies the facilities (two as-of dates, for a status history), `facmon dashboards sync-registry`
writes facility_info, and the alert and review points, and the latest analysis's integrity fields, are written
with facmon.core.lineproto per their contract."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from dashboards.runner import Clients
from facmon.cli.main import main
from facmon.core.influx import InfluxClient
from facmon.core.settings import load_settings
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from ingest.service import Ingester
from sensors.registry import load_registry
from tests.integration.dashboards import scenario
from tests.logstate import kept_logging


@dataclass
class World:
    now: datetime
    database: str
    client: InfluxClient  # the readings database
    evidence: InfluxClient  # statuses, alerts, reviews, facility_info (analytics.analysis.evidence)
    registry: Path
    analyses: dict[str, dict[str, Any]]  # as-of date -> facility id -> analyze's JSON for it
    latest: dict[str, Any]
    names: scenario.Names  # what the registry calls the regions and facilities

    @property
    def clients(self) -> Clients:
        return Clients(self.client, self.evidence)

    def status_runs(self, status: str) -> int:
        return sum(1 for run in self.analyses.values() for result in run.values() if result["status"] == status)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def scalar(client: InfluxClient, query: str) -> Any:
    series = client.query(query)[0].get("series", [])
    return series[0]["values"][0][1] if series else None


def publish(mosquitto: LocalMosquitto, messages: list[tuple[str, bytes, bool]]) -> None:
    device = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"dash-dev-{uuid.uuid4().hex}")
    device.connect("127.0.0.1", mosquitto.port)
    device.loop_start()
    try:
        for topic, payload, retain in messages:
            device.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        device.disconnect()
        device.loop_stop()


def messages(now: datetime) -> list[tuple[str, bytes, bool]]:
    out = []
    for sensor in scenario.SENSORS:
        topic = f"{scenario.PREFIX}/{sensor.facility}/{sensor.sensor}/reading"
        out += [(topic, json.dumps(batch).encode(), False) for batch in scenario.payloads(sensor, now)]
    bad = json.dumps({"ts": int(now.timestamp()), "occupancy": "14"}).encode()
    out.append((f"{scenario.PREFIX}/d-busy/door-1/reading", bad, False))  # wrong_type
    negative = json.dumps({"ts": round(now.timestamp() * 1000), "occupancy": -3}).encode()
    out.append((f"{scenario.PREFIX}/d-busy/door-1/reading", negative, False))  # out_of_range, the sensor's latest
    out.append((f"{scenario.PREFIX}/nowhere/s1/reading", b'{"ts": 1, "occupancy": 1}', False))  # unknown_facility
    revised = f"{scenario.PREFIX}/{'/'.join(scenario.REVISED)}/reading"
    out.append((revised, json.dumps(scenario.revised(now)).encode(), False))  # after the original: a revision
    out.append((f"{scenario.PREFIX}/d-busy/door-1/status", b"online", True))
    out.append((f"{scenario.PREFIX}/d-silent/s1/status", b"offline", True))
    return out


def ingest(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, database: str, registry_path: Path,
           now: datetime) -> None:
    settings = load_settings({
        "mqtt_url": mosquitto.url, "influx_url": influxdb.url, "influx_db": database, "registry": str(registry_path),
        "stats_interval": 1, "topic_prefix": scenario.PREFIX, "mqtt_client_id": f"dash-{uuid.uuid4().hex[:12]}",
    })
    ingester = Ingester(settings, load_registry(registry_path))
    stop = threading.Event()
    runner = threading.Thread(target=ingester.run, args=(stop,), daemon=True)
    runner.start()
    try:
        assert ingester.connected.wait(10), "the ingester did not connect"
        publish(mosquitto, messages(now))
        client = InfluxClient(influxdb.url, database)
        expected = scenario.reading_count(now)
        wait_for(lambda: scalar(client, 'SELECT count("arrival_delay_ms") FROM "reading"') == expected, "readings")
        wait_for(lambda: scalar(client, 'SELECT sum("count") FROM "refusal"') == 3, "refusals")
        wait_for(lambda: scalar(client, 'SELECT count("new_received_ms") FROM "revision"') == 1, "the revision")
        # The per-minute rates need ingester counters in at least two 10-second buckets.
        span = 'SELECT spread("received") FROM (SELECT max("received") AS "received" FROM "ingest_stats" ' \
               "WHERE time > now() - 1h GROUP BY time(10s) fill(none))"
        buckets = 'SELECT count("received") FROM (SELECT max("received") AS "received" FROM "ingest_stats" ' \
                  "WHERE time > now() - 1h GROUP BY time(10s) fill(none))"
        wait_for(lambda: (scalar(client, buckets) or 0) >= 2 and scalar(client, span) is not None, "ingest_stats")
        written = 'SELECT last("readings_written") FROM "ingest_stats"'
        wait_for(lambda: scalar(client, written) == expected + 1, "counters after the last write (the revision too)")
        client.close()
    finally:
        stop.set()
        # The ingester closes its own InfluxDB connection on shutdown but not its writer thread's, which the
        # writer's thread-local storage drops when that thread ends (reported; ingest/ is not ours to change):
        # its ResourceWarning is ignored here, while the threads end, and nowhere else.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            runner.join(30)
            for thread in threading.enumerate():
                if thread.name == "influx-writer":
                    thread.join(10)
            gc.collect()


def analyze(influxdb: LocalInfluxDB, database: str, registry: Path, as_of: str) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry", str(registry),
                     "--as-of", as_of, "--window", "7", "--rollup", "off", "--format", "json"])
    assert code == 0
    return {result["facility_id"]: result for result in json.loads(out.getvalue())["facilities"]}


def build(influxdb: LocalInfluxDB, mosquitto: LocalMosquitto, workdir: Path,
          names: scenario.Names = scenario.PINYIN) -> Iterator[World]:
    now = scenario.utc_now()
    database = "t_" + uuid.uuid4().hex[:12]
    registry_path = workdir / "registry.yaml"
    registry_path.write_text(yaml.safe_dump(scenario.registry(now, names), allow_unicode=True), encoding="utf-8")
    ingest(mosquitto, influxdb, database, registry_path, now)
    today = scenario.as_of(now)
    with kept_logging(clear=True):
        analyses = {day.isoformat(): analyze(influxdb, database, registry_path, day.isoformat())
                    for day in (today - timedelta(days=1), today)}
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["dashboards", "sync-registry", "--influx-url", influxdb.url, "--influx-db", database,
                         "--registry", str(registry_path)]) == 0
    client, evidence = InfluxClient(influxdb.url, database), InfluxClient(influxdb.url, f"{database}_evidence")
    statuses = {fid: result["status"] for fid, result in analyses[today.isoformat()].items()}
    evidence.write("\n".join(scenario.alert_lines(now, names) + scenario.review_lines(now, load_registry(registry_path))
                             + scenario.integrity_lines(now, statuses, names)).encode())
    try:
        yield World(now, database, client, evidence, registry_path, analyses, analyses[today.isoformat()], names)
    finally:
        client.close()
        evidence.close()
        influxdb.query(f'DROP DATABASE "{database}"')
        influxdb.query(f'DROP DATABASE "{database}_evidence"')
        publish(mosquitto, [(f"{scenario.PREFIX}/{fid}/{sensor}/status", b"", True)
                            for fid, sensor in (("d-busy", "door-1"), ("d-silent", "s1"))])
