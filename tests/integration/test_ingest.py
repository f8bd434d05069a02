"""End to end: `facmon ingest` as a real process between a real Mosquitto and a real InfluxDB 1.x.

Every test reads back what the ingester stored in InfluxDB and what it answered on MQTT. Tests that only send
refused messages share one ingester (module scope, its own database and topic prefix) and tell their own points
apart by time; everything else starts an ingester of its own with a unique client id, topic prefix and database.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from sensors.contract import MAX_BATCH_ITEMS, MAX_PAYLOAD_BYTES, NOTICE_PAYLOAD_BYTES, RefusalReason, TopicGrammar
from sensors.parse import MessageParser
from tests.conftest import TEST_CLOCK
from tests.integration.ingester import (
    COMMUNITY,
    COMMUNITY_TAGS,
    LIBRARY,
    LIBRARY_TAGS,
    TIMEOUT,
    InfluxReader,
    IngesterFactory,
    IngesterProcess,
    Notice,
    NoticeListener,
    Publisher,
    make_ingester,
    notice_listener,
    now_ms,
    publisher,
    reader,
    unique,
    wait_until,
)

__all__ = ["make_ingester", "reader"]  # fixtures used by name
pytestmark = pytest.mark.servers

NOTICE_KEYS = {"reason", "detail", "path", "topic", "received", "payload"}
DAY_MS = 86_400_000


def reading_topic(prefix: str, facility: str, sensor: str) -> str:
    return f"{prefix}/{facility}/{sensor}/reading"


def status_topic(prefix: str, facility: str, sensor: str) -> str:
    return f"{prefix}/{facility}/{sensor}/status"


def as_bytes(payload: bytes | str | dict[str, Any] | list[Any]) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def check_notice(
    notice: Notice, *, topic: str, published_to: str, payload: bytes, reason: str, path: str | None
) -> None:
    """A notice names the reason, the offending field and the message, as the integrator needs to fix it."""
    body = notice.body
    assert notice.topic == topic
    assert NOTICE_KEYS <= set(body) <= NOTICE_KEYS | {"ts", "errors"}  # ts: a decoded ts; errors: more than one
    assert body["reason"] == reason
    assert body["path"] == path
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["topic"] == published_to
    assert body["payload"] == payload[:NOTICE_PAYLOAD_BYTES].decode("utf-8", "replace")
    received = datetime.fromisoformat(body["received"])
    assert received.tzinfo is not None
    assert abs((TEST_CLOCK.now() - received).total_seconds()) < 60  # the ingester's clock, pinned from the tests'


# -- fixtures ------------------------------------------------------------------------------------------------------
@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own, so tests sharing the session broker never see each other's messages."""
    return unique("t") + "/v1"


@pytest.fixture
def ingester(make_ingester: IngesterFactory) -> IngesterProcess:
    """A started ingester with default batching."""
    process = make_ingester()
    process.start()
    return process


@pytest.fixture
def pub(mosquitto: LocalMosquitto) -> Iterator[Publisher]:
    with publisher(mosquitto.host, mosquitto.port) as client:
        yield client


@pytest.fixture
def notices(mosquitto: LocalMosquitto, prefix: str) -> Iterator[NoticeListener]:
    with notice_listener(mosquitto.host, mosquitto.port, prefix) as listener:
        yield listener


# -- accepted readings ---------------------------------------------------------------------------------------------
def test_single_reading_is_stored_with_registry_tags_and_integer_fields(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str, notices: NoticeListener
) -> None:
    ts = now_ms() - 5_000
    payload = {"ts": ts, "occupancy": 37, "entries": 12, "exits": 4, "uses": 3, "seq": 9001}
    published_at = now_ms()
    pub.publish(reading_topic(prefix, LIBRARY, "door-1"), json.dumps(payload))

    [point] = reader.wait_points("reading", 1)
    assert point["time"] == ts * 1_000_000  # the sensor's own time, to the nanosecond
    assert {key: point[key] for key in ("facility", "sensor", "type", "region")} == {**LIBRARY_TAGS, "sensor": "door-1"}
    assert {key: point[key] for key in ("occupancy", "entries", "exits", "uses", "seq")} == {
        "occupancy": 37, "entries": 12, "exits": 4, "uses": 3, "seq": 9001,
    }
    # the receive time, for late_arrival, on the ingester's clock: pinned where ours was when it was spawned, it
    # lags ours by its start-up (tests.integration.ingester.now_ms), so it lies between its spawn and now
    assert ingester.started_ms <= point["received_ms"] <= now_ms()
    # arrival delay = the ingester's receive time - ts; the message was 5 s old when published
    assert point["arrival_delay_ms"] == point["received_ms"] - ts
    assert point["arrival_delay_ms"] <= 5_000 + (now_ms() - published_at) + 1_000
    assert "over_capacity" not in point  # only written when true (no such field in the measurement yet)

    assert reader.tag_keys("reading") == {"facility", "sensor", "type", "region"}
    integer_fields = ("occupancy", "entries", "exits", "uses", "seq", "arrival_delay_ms", "received_ms")
    assert reader.field_types("reading") == dict.fromkeys(integer_fields, "integer")
    assert reader.count("refusal") == 0
    notices.assert_quiet(0.2)


def test_batch_of_readings_is_stored(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    base = now_ms() - 60_000
    batch = [{"ts": base + i * 1_000, "entries": i, "exits": i // 2, "seq": 100 + i} for i in range(25)]
    pub.publish(reading_topic(prefix, COMMUNITY, "gate"), json.dumps(batch))

    points = reader.wait_points("reading", 25)
    assert [p["time"] for p in points] == [(base + i * 1_000) * 1_000_000 for i in range(25)]
    assert [(p["entries"], p["exits"], p["seq"]) for p in points] == [(i, i // 2, 100 + i) for i in range(25)]
    assert all(p.get("occupancy") is None for p in points)
    assert {(p["facility"], p["type"], p["region"], p["sensor"]) for p in points} == {
        (COMMUNITY, COMMUNITY_TAGS["type"], COMMUNITY_TAGS["region"], "gate")
    }


def test_batch_with_bad_readings_keeps_good_ones_and_notices_each_bad_one(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str, notices: NoticeListener
) -> None:
    base = now_ms() - 10_000
    batch: list[Any] = [
        {"ts": base, "occupancy": 10},
        {"ts": base + 1_000, "occupancy": -1},
        {"ts": base + 2_000, "occupancy": 12},
        {"ts": base + 3_000, "occupancy": "13"},
        7,
        {"ts": base + 5_000, "occupancy": 14, "colour": "red"},
        {"ts": "yesterday", "occupancy": 15},
        {"ts": base + 7_000, "occupancy": 16},
    ]
    topic = reading_topic(prefix, LIBRARY, "door-2")
    payload = json.dumps(batch).encode()
    pub.publish(topic, payload)

    expected = [
        ("out_of_range", "[1].occupancy"),
        ("wrong_type", "[3].occupancy"),
        ("bad_shape", "[4]"),
        ("unknown_field", "[5].colour"),
        ("bad_ts", "[6].ts"),
    ]
    received = notices.take(len(expected))
    for notice, (reason, path) in zip(received, expected, strict=True):
        check_notice(
            notice, topic=f"{prefix}/{LIBRARY}/door-2/rejected", published_to=topic, payload=payload,
            reason=reason, path=path,
        )
    notices.assert_quiet(0.2)

    points = reader.wait_points("reading", 3)
    assert [(p["time"], p["occupancy"]) for p in points] == [
        (base * 1_000_000, 10), ((base + 2_000) * 1_000_000, 12), ((base + 7_000) * 1_000_000, 16)
    ]
    refusals = reader.wait_points("refusal", len(expected))
    assert sorted((r["reason"], r["path"]) for r in refusals) == sorted(expected)
    assert {(r["facility"], r["sensor"], r["count"]) for r in refusals} == {(LIBRARY, "door-2", 1)}


def test_over_capacity_occupancy_is_kept_and_flagged(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    ts = now_ms() - 1_000
    pub.publish_many([
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": ts, "occupancy": 121})),  # capacity 120
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": ts + 1, "occupancy": 120})),
        (reading_topic(prefix, COMMUNITY, "hall"), json.dumps({"ts": ts, "occupancy": 100_000})),  # capacity 60
    ])
    points = reader.wait_points("reading", 3)
    flags = {(p["facility"], p["occupancy"]): p.get("over_capacity") for p in points}
    assert flags == {(LIBRARY, 121): True, (LIBRARY, 120): None, (COMMUNITY, 100_000): True}
    assert reader.field_types("reading")["over_capacity"] == "boolean"
    assert reader.count("refusal") == 0


def test_redelivered_and_reformatted_readings_are_one_point(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str, notices: NoticeListener
) -> None:
    ts_ms = (now_ms() // 1_000 - 30) * 1_000 + 123  # a whole millisecond, 30 s ago
    moment = datetime.fromtimestamp(ts_ms / 1_000, UTC)
    shanghai = timezone(timedelta(hours=8))
    topic = reading_topic(prefix, LIBRARY, "door-3")
    forms: list[Any] = [
        ts_ms,  # epoch milliseconds
        moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),  # RFC 3339, UTC
        moment.astimezone(shanghai).isoformat(timespec="milliseconds"),  # RFC 3339, +08:00
        moment.astimezone(shanghai).isoformat(timespec="microseconds").replace("T", " "),  # space, 6 digits
        ts_ms / 1_000,  # epoch seconds with a fraction
        float(ts_ms),  # epoch milliseconds as a float
    ]
    same_message = json.dumps({"ts": ts_ms, "occupancy": 5, "seq": 1})
    pub.publish(topic, same_message)
    pub.publish(topic, same_message)  # the very same message again (a sensor retrying after a lost PUBACK)
    for ts in forms:
        pub.publish(topic, json.dumps({"ts": ts, "occupancy": 5, "seq": 1}))

    ingester.wait_received(2 + len(forms))
    points = reader.wait_points("reading", 1, settle=1.0)
    assert points[0]["time"] == ts_ms * 1_000_000
    assert (points[0]["occupancy"], points[0]["seq"]) == (5, 1)
    assert reader.count("refusal") == 0
    notices.assert_quiet(0.1)


def test_readings_published_while_the_ingester_is_down_arrive_after_restart(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    ingester = make_ingester()
    ingester.start()  # first connect creates the persistent session and its subscription
    code, log = ingester.stop()
    assert code == 0, log
    assert ingester.session() == "new"

    base = now_ms() - 120_000
    count = 40
    pub.publish_many(
        (reading_topic(prefix, LIBRARY, f"s{i % 4}"), json.dumps({"ts": base + i, "occupancy": i, "seq": i}))
        for i in range(count)
    )
    assert reader.count("reading") == 0

    ingester.start()
    assert ingester.session() == "resumed"
    points = reader.wait_points("reading", count)
    assert sorted(p["seq"] for p in points) == list(range(count))
    code, log = ingester.stop()
    assert code == 0, log


def unsubscribe_as(mosquitto: LocalMosquitto, client_id: str, topic: str) -> None:
    """What a thief of the ingester's client id does: resume its session, drop its subscription, leave."""
    done = threading.Event()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
        clean_session=False,
    )
    client.on_unsubscribe = lambda *args: done.set()
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        client.unsubscribe(topic)
        assert done.wait(TIMEOUT), "no UNSUBACK"
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("ingester_running", [False, True], ids=["while-stopped", "while-running"])
def test_a_session_emptied_by_a_stolen_client_id_is_subscribed_again_on_the_next_connect(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, pub: Publisher, reader: InfluxReader, prefix: str,
    ingester_running: bool,
) -> None:
    """issue 19: one UNSUBSCRIBE on the resumed session used to stop ingestion for everyone, for good."""
    ingester = make_ingester()
    ingester.start()
    if ingester_running:
        unsubscribe_as(mosquitto, ingester.client_id, f"{prefix}/#")  # kicks the ingester off, too
        ingester.wait_for_log(r"(?s)connected to .*connected to .*session resumed")
    else:
        code, log = ingester.stop()
        assert code == 0, log
        unsubscribe_as(mosquitto, ingester.client_id, f"{prefix}/#")
        ingester.start()
        assert ingester.session() == "resumed"
    # The subscription goes out before that log line is written; the old code logged "session resumed" too.
    ingester.wait_for_log(r"session resumed")
    base = now_ms() - 120_000
    count = 20
    pub.publish_many(
        (reading_topic(prefix, LIBRARY, f"s{i % 4}"), json.dumps({"ts": base + i, "occupancy": i, "seq": i}))
        for i in range(count)
    )
    points = reader.wait_points("reading", count)
    assert sorted(p["seq"] for p in points) == list(range(count))
    code, log = ingester.stop()
    assert code == 0, log


def test_sigterm_writes_buffered_readings_and_acknowledges_them(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    env = {"FACMON_FLUSH_INTERVAL": "30", "FACMON_BATCH_SIZE": "100000"}
    ingester = make_ingester(env)
    ingester.start()
    count = 200
    base = now_ms() - 300_000
    pub.publish_many(
        (reading_topic(prefix, COMMUNITY, "gate"), json.dumps({"ts": base + i * 10, "entries": i, "seq": i}))
        for i in range(count)
    )
    ingester.wait_received(count)
    assert reader.count("reading") == 0  # still buffered: the flush interval is 30 s

    code, log = ingester.stop()
    assert code == 0, log
    assert f"stopping: writing {count} pending readings" in log
    assert f"stopped: received={count} written={count} refused=0" in log
    points = reader.points("reading")  # written before the process exited: no waiting
    assert len(points) == count
    assert sorted(p["seq"] for p in points) == list(range(count))

    # The same session again: every message was acknowledged, so the broker has nothing to redeliver.
    ingester.start()
    assert ingester.session() == "resumed"
    ingester.wait_for_log(r"counters received=0 ")
    time.sleep(1.0)
    code, log = ingester.stop()
    assert code == 0, log
    assert "stopped: received=0 written=0 refused=0" in log
    assert reader.count("reading") == count


def test_sigkill_before_write_loses_nothing(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    """A crash before the write: nothing was acknowledged, so the broker redelivers it all to the next run."""
    env = {"FACMON_FLUSH_INTERVAL": "30", "FACMON_BATCH_SIZE": "100000"}
    ingester = make_ingester(env)
    ingester.start()
    count = 60
    base = now_ms() - 300_000
    pub.publish_many(
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": base + i, "occupancy": i, "seq": i}))
        for i in range(count)
    )
    ingester.wait_received(count)
    ingester.kill()
    assert reader.count("reading") == 0

    ingester.env.update({"FACMON_FLUSH_INTERVAL": "0.25", "FACMON_BATCH_SIZE": "2000"})
    ingester.start()
    assert ingester.session() == "resumed"
    points = reader.wait_points("reading", count)
    assert sorted(p["seq"] for p in points) == list(range(count))
    ingester.wait_for_log(rf"counters received={count} accepted={count} written={count} ")
    code, log = ingester.stop()
    assert code == 0, log


# -- sensor status -------------------------------------------------------------------------------------------------
def test_status_changes_are_recorded_and_a_replayed_retained_status_is_not(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, prefix: str, notices: NoticeListener
) -> None:
    ingester = make_ingester()
    ingester.start()
    pub.publish(status_topic(prefix, LIBRARY, "door-1"), "online")
    reader.wait_points("sensor_status", 1)
    pub.publish(status_topic(prefix, LIBRARY, "door-1"), "offline")
    # A Last Will is published retained, so a later subscriber sees the sensor's state.
    pub.publish(status_topic(prefix, COMMUNITY, "hall"), "offline", retain=True)
    points = reader.wait_points("sensor_status", 3)
    assert [(p["facility"], p["sensor"], p["online"]) for p in points] == [
        (LIBRARY, "door-1", True), (LIBRARY, "door-1", False), (COMMUNITY, "hall", False)
    ]
    assert reader.field_types("sensor_status") == {"online": "boolean"}
    assert reader.tag_keys("sensor_status") == {"facility", "sensor"}

    # Restart: the session resumes with its subscription; the retained status is not delivered or recorded again.
    code, log = ingester.stop()
    assert code == 0, log
    ingester.start()
    assert ingester.session() == "resumed"
    # A brand-new session gets the retained message on its new subscription; it is old news, not a change.
    other = make_ingester()
    other.start()
    assert other.session() == "new"
    time.sleep(1.0)
    assert other.last_counters()["received"] <= 1  # the retained status, if the broker sends it
    assert (other.last_counters()["statuses"], other.last_counters()["written"]) == (0, 0)
    assert reader.count("sensor_status") == 3
    for process in (ingester, other):
        code, log = process.stop()
        assert code == 0, log
    assert "stopped: received=0 " in ingester.run_log
    notices.assert_quiet(0.1)
    pub.publish(status_topic(prefix, COMMUNITY, "hall"), b"", retain=True)  # clear the retained message


# -- InfluxDB: database creation, outages, counters ------------------------------------------------------------------
def test_ingester_creates_its_database_when_missing(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, prefix: str, influx_db_name: str
) -> None:
    assert influx_db_name not in reader.databases()
    ingester = make_ingester()
    ingester.start()
    assert influx_db_name in reader.databases()
    assert f"WARNING ingest.service: created InfluxDB database {influx_db_name}" in ingester.run_log  # issue 15

    # Dropped while running (an operator's mistake, a restore): the writer creates it again and writes.
    reader.raw(f'DROP DATABASE "{influx_db_name}"', database="")
    assert influx_db_name not in reader.databases()
    ts = now_ms() - 1_000
    pub.publish(reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": ts, "occupancy": 3}))
    [point] = reader.wait_points("reading", 1)
    assert (point["time"], point["occupancy"]) == (ts * 1_000_000, 3)
    assert "WARNING ingest.pipeline: created the InfluxDB database" in ingester.run_log


@pytest.mark.slow
def test_influxdb_down_at_start_readings_arrive_when_it_comes_up(
    make_ingester: IngesterFactory, fresh_influxdb: LocalInfluxDB, pub: Publisher, prefix: str, influx_db_name: str
) -> None:
    fresh_influxdb.stop()
    ingester = make_ingester(influx=fresh_influxdb)
    ingester.start()
    assert "not ready yet" in ingester.run_log
    count = 30
    base = now_ms() - 60_000
    pub.publish_many(
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": base + i, "occupancy": i, "seq": i}))
        for i in range(count)
    )
    ingester.wait_received(count)
    ingester.wait_for_log("InfluxDB write failed")
    time.sleep(1.0)
    assert ingester.running

    fresh_influxdb.start()
    reader = InfluxReader(fresh_influxdb.url, influx_db_name)
    points = reader.wait_points("reading", count, timeout=30)
    assert sorted(p["seq"] for p in points) == list(range(count))
    assert ingester.running
    code, log = ingester.stop()
    assert code == 0, log


@pytest.mark.slow
def test_influxdb_down_briefly_readings_arrive_when_it_returns(
    make_ingester: IngesterFactory, fresh_influxdb: LocalInfluxDB, pub: Publisher, prefix: str, influx_db_name: str
) -> None:
    ingester = make_ingester(influx=fresh_influxdb)
    ingester.start()
    reader = InfluxReader(fresh_influxdb.url, influx_db_name)
    base = now_ms() - 60_000
    messages = [
        (reading_topic(prefix, COMMUNITY, "hall"), json.dumps({"ts": base + i, "occupancy": i, "seq": i}))
        for i in range(45)
    ]
    pub.publish_many(messages[:5])
    reader.wait_points("reading", 5)

    fresh_influxdb.stop()
    pub.publish_many(messages[5:])
    ingester.wait_received(45)
    ingester.wait_for_log("InfluxDB write failed")
    assert ingester.running

    fresh_influxdb.start()
    points = reader.wait_points("reading", 45, timeout=30)
    assert sorted(p["seq"] for p in points) == list(range(45))
    code, log = ingester.stop()
    assert code == 0, log
    assert "stopped: received=45 written=45 refused=0" in log


def test_ingest_stats_points_are_written(
    ingester: IngesterProcess, pub: Publisher, reader: InfluxReader, prefix: str
) -> None:
    ts = now_ms() - 1_000
    pub.publish_many([
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": ts, "occupancy": 1})),
        (reading_topic(prefix, LIBRARY, "door-1"), json.dumps({"ts": ts + 1, "occupancy": -1})),
    ])

    def settled() -> list[dict[str, Any]]:
        return [p for p in reader.points("ingest_stats") if p["readings_written"] == 1 and p["refused"] == 1]

    stats = wait_until(settled, what="an ingest_stats point counting the written and the refused reading")[0]
    assert stats["instance"] == ingester.client_id
    # the 2 readings, and perhaps already the ingester's own notice about the bad one (which it ignores)
    assert stats["received"] in (2, 3)
    assert (stats["readings_accepted"], stats["pending"]) == (1, 0)
    assert stats["write_retries"] == 0
    assert stats["lag_ms"] >= 0
    assert reader.tag_keys("ingest_stats") == {"instance"}
    assert set(reader.field_types("ingest_stats").values()) == {"integer"}
    assert len(reader.points("ingest_stats")) >= 2  # one every FACMON_STATS_INTERVAL (0.2 s)


# -- refusals: one shared ingester, only refused messages ----------------------------------------------------------
@dataclass
class Shared:
    ingester: IngesterProcess
    prefix: str
    reader: InfluxReader
    notices: NoticeListener
    pub: Publisher
    broker: LocalMosquitto

    def since(self) -> int:
        """A time after every refusal point stored so far: the ingester stamps its next ones later.

        Read from what the ingester wrote, not from a clock: its clock is pinned apart from the tests' own.
        """
        last = self.reader.rows('SELECT last("count") FROM refusal')
        return last[0]["time"] + 1 if last else 0


@pytest.fixture(scope="module")
def shared(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    prefix = unique("r") + "/v1"
    database = "t_" + uuid.uuid4().hex[:12]
    ingester = IngesterProcess(
        tmp_path_factory.mktemp("shared-ingester"),
        mqtt_url=mosquitto.url,
        influx_url=influxdb.url,
        influx_db=database,
        topic_prefix=prefix,
        env={"FACMON_FLUSH_INTERVAL": "0.05"},
    )
    ingester.start()
    try:
        with (
            notice_listener(mosquitto.host, mosquitto.port, prefix) as listener,
            publisher(mosquitto.host, mosquitto.port) as pub,
        ):
            yield Shared(ingester, prefix, InfluxReader(influxdb.url, database), listener, pub, mosquitto)
        code, log = ingester.stop()
        assert code == 0, log
    finally:
        ingester.kill()


def expect_refusal(
    shared: Shared, topic: str, payload: bytes, reason: str, path: str | None, notice_topic: str
) -> dict[str, Any]:
    """Publish one refused message; check its notice, its one refusal point, and that no reading was stored."""
    since = shared.since()
    shared.pub.publish(topic, payload)
    [notice] = shared.notices.take(1)
    check_notice(notice, topic=notice_topic, published_to=topic, payload=payload, reason=reason, path=path)
    [point] = shared.reader.wait_points("refusal", 1, where=f"time >= {since}", settle=0.1)
    assert point["reason"] == reason
    assert point["count"] == 1
    assert point.get("path") == (path[:200].replace("\n", "\\n") if path else None)
    shared.notices.assert_quiet(0.05)
    assert shared.reader.count("reading") == 0
    return point


Payload = bytes | str | dict[str, Any] | list[Any]


def _ts() -> int:
    return now_ms() - 1_000


REFUSED_READINGS: list[tuple[str, Callable[[], Payload], str | None]] = [
    # (reason, payload, path)
    ("oversize", lambda: b'{"ts": 1, "occupancy": 1, "x": "' + b"y" * MAX_PAYLOAD_BYTES + b'"}', None),
    ("bad_encoding", lambda: b'{"ts": 1, "occupancy": 1, "note": "\xff\xfe"}', None),
    ("bad_encoding", lambda: "{\"ts\": 1, \"occupancy\": 1}".encode("utf-16"), None),
    ("bad_json", lambda: b'{"ts": ', None),
    ("bad_json", lambda: b"", None),
    ("bad_json", lambda: f'{{"ts": {_ts()}, "occupancy": NaN}}', None),
    ("bad_json", lambda: f'{{"ts": {_ts()}, "occupancy": 1}} trailing', None),
    ("bad_json", lambda: "[" * 100_000 + "]" * 100_000, None),
    ("bad_shape", lambda: "42", None),
    ("bad_shape", lambda: '"occupancy"', None),
    ("bad_shape", lambda: "null", None),
    ("bad_shape", list, None),
    ("bad_shape", lambda: [1], "[0]"),
    ("bad_shape", lambda: [[{"ts": _ts(), "occupancy": 1}]], "[0]"),
    ("batch_too_large", lambda: [{"ts": _ts(), "occupancy": 1}] * (MAX_BATCH_ITEMS + 1), None),
    ("duplicate_field", lambda: f'{{"ts": {_ts()}, "occupancy": 1, "occupancy": 2}}', "occupancy"),
    ("duplicate_field", lambda: f'[{{"ts": {_ts()}, "ts": {_ts()}, "uses": 2}}]', "[0].ts"),
    ("unknown_field", lambda: {"ts": _ts(), "occupancy": 1, "temperature": 21}, "temperature"),
    ("unknown_field", lambda: {"ts": _ts(), "Occupancy": 1}, "Occupancy"),
    ("unknown_field", lambda: {"ts": _ts(), "occupancy": 1, 'a "quoted",\nkey=\\ ': 1}, 'a "quoted",\nkey=\\ '),
    ("unknown_field", lambda: {"ts": _ts(), "occupancy": 1, "trailing\\": 1}, "trailing\\"),
    ("unknown_field", lambda: {"ts": _ts(), "occupancy": 1, "k" * 300: 1}, "k" * 300),
    ("missing_field", lambda: {"occupancy": 1}, "ts"),
    ("missing_field", dict, "ts"),
    ("missing_field", lambda: {"ts": _ts(), "exits": 3, "seq": 1}, None),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": "5"}, "occupancy"),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": 5.0}, "occupancy"),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": True}, "occupancy"),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": None}, "occupancy"),
    ("wrong_type", lambda: {"ts": _ts(), "entries": 1, "exits": [1]}, "exits"),
    ("wrong_type", lambda: {"ts": _ts(), "uses": 1, "seq": "7"}, "seq"),
    ("wrong_type", lambda: {"ts": None, "occupancy": 1}, "ts"),
    ("wrong_type", lambda: {"ts": {"s": 1}, "occupancy": 1}, "ts"),
    ("out_of_range", lambda: {"ts": _ts(), "occupancy": -1}, "occupancy"),
    ("out_of_range", lambda: {"ts": _ts(), "entries": 100_001}, "entries"),
    ("out_of_range", lambda: {"ts": _ts(), "uses": 1, "seq": 2**63}, "seq"),
    ("out_of_range", lambda: {"ts": _ts(), "uses": 10**30}, "uses"),
    ("bad_ts", lambda: {"ts": "yesterday", "occupancy": 1}, "ts"),
    ("bad_ts", lambda: {"ts": "2025-11-27T10:15:00", "occupancy": 1}, "ts"),  # no offset
    ("bad_ts", lambda: {"ts": "2025-02-30T10:15:00Z", "occupancy": 1}, "ts"),  # no such day
    ("bad_ts", lambda: {"ts": 1e300, "occupancy": 1}, "ts"),
    ("ts_in_future", lambda: {"ts": now_ms() + 3_600_000, "occupancy": 1}, "ts"),
    ("ts_too_old", lambda: {"ts": now_ms() - 40 * DAY_MS, "occupancy": 1}, "ts"),
    ("ts_too_old", lambda: {"ts": 0, "occupancy": 1}, "ts"),
]


@pytest.mark.parametrize(
    ("reason", "make_payload", "path"),
    REFUSED_READINGS,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(REFUSED_READINGS)],
)
def test_refused_reading_is_noticed_and_counted(
    shared: Shared, reason: str, make_payload: Callable[[], Payload], path: str | None
) -> None:
    sensor = unique("s-")
    topic = reading_topic(shared.prefix, LIBRARY, sensor)
    point = expect_refusal(
        shared, topic, as_bytes(make_payload()), reason, path, f"{shared.prefix}/{LIBRARY}/{sensor}/rejected"
    )
    assert (point.get("facility"), point.get("sensor")) == (LIBRARY, sensor)


REFUSAL_DETAILS: list[tuple[str, Callable[[], Payload], str | None, str]] = [
    # (reason, payload, path, what the notice's detail must say)
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": "5"}, "occupancy", "occupancy must be a JSON integer, not a s"),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": 5.5}, "occupancy", "not a number with a fraction or exponent"),
    ("wrong_type", lambda: {"ts": _ts(), "occupancy": {"n": 5}}, "occupancy", "not an object"),
    ("wrong_type", lambda: {"ts": _ts(), "uses": 1, "exits": [5]}, "exits", "not an array"),
    ("wrong_type", lambda: {"ts": {"s": 1}, "uses": 1}, "ts", "ts must be a string or a number, not an object"),
    ("out_of_range", lambda: {"ts": _ts(), "uses": 10**30}, "uses", "uses must be between 0 and 100000"),
    ("duplicate_field", lambda: f'{{"ts": {_ts()}, "uses": 1, "uses": 2}}', "uses", "'uses' appears twice"),
    ("unknown_field", lambda: {"ts": _ts(), "uses": 1, "temp": 2}, "temp", "unknown field 'temp'"),
    ("bad_ts", lambda: {"ts": "2025-02-30T10:15:00Z", "uses": 1}, "ts", "not a real date"),
    ("oversize", lambda: b"[" + b" " * MAX_PAYLOAD_BYTES + b"]", None, f"limit {MAX_PAYLOAD_BYTES}"),
    ("batch_too_large", lambda: [{"ts": _ts(), "uses": 1}] * 1001, None, f"limit {MAX_BATCH_ITEMS}"),
]


@pytest.mark.parametrize(
    ("reason", "make_payload", "path", "detail"), REFUSAL_DETAILS, ids=[case[3][:30] for case in REFUSAL_DETAILS]
)
def test_refusal_detail_names_the_problem(
    shared: Shared, reason: str, make_payload: Callable[[], Payload], path: str | None, detail: str
) -> None:
    sensor = unique("s-")
    topic = reading_topic(shared.prefix, COMMUNITY, sensor)
    since = shared.since()
    payload = as_bytes(make_payload())
    shared.pub.publish(topic, payload)
    [notice] = shared.notices.take(1)
    check_notice(
        notice, topic=f"{shared.prefix}/{COMMUNITY}/{sensor}/rejected", published_to=topic, payload=payload,
        reason=reason, path=path,
    )
    assert detail in notice.body["detail"]
    shared.reader.wait_points("refusal", 1, where=f"time >= {since}", settle=0.05)


def test_every_refusal_reason_is_covered() -> None:
    covered = {case[0] for case in REFUSED_READINGS} | {"bad_topic", "unknown_facility", "bad_status"}
    covered |= {"too_many_sensors", "not_stored"}  # tests/faults/test_hostile_integrator.py
    assert covered == {reason.value for reason in RefusalReason}


@pytest.mark.parametrize("payload", [b"maybe", b"ONLINE", b"online\n", b"", b'"online"'])
def test_bad_status_is_noticed_and_counted(shared: Shared, payload: bytes) -> None:
    sensor = unique("s-")
    point = expect_refusal(
        shared, status_topic(shared.prefix, COMMUNITY, sensor), payload, "bad_status", None,
        f"{shared.prefix}/{COMMUNITY}/{sensor}/rejected",
    )
    assert (point.get("facility"), point.get("sensor")) == (COMMUNITY, sensor)
    assert shared.reader.count("sensor_status") == 0


@pytest.mark.parametrize("kind", ["reading", "status"])
def test_unknown_facility_is_noticed_without_a_facility_tag(shared: Shared, kind: str) -> None:
    sensor = unique("s-")
    topic = f"{shared.prefix}/wz-nowhere-999/{sensor}/{kind}"
    payload = json.dumps({"ts": _ts(), "occupancy": 1}).encode() if kind == "reading" else b"online"
    # nobody's integrator may read below an unknown facility: the operators' topic, counted as unattributed
    point = expect_refusal(shared, topic, payload, "unknown_facility", "topic", f"{shared.prefix}/_rejected")
    assert point.get("facility") is None  # unknown ids do not become tags: series cardinality stays bounded
    assert point.get("sensor") == sensor
    assert shared.reader.count("sensor_status") == 0


HOSTILE_TOPICS: list[tuple[str, str | None, str]] = [
    # (topic below the prefix, path in the notice, where the notice goes below the prefix): a mistake under a known
    # facility is answered where that facility's integrator may read; anything else on the operators' topic.
    ("wz lc lib/s1/reading", "topic", "_rejected"),
    ("wz,lc=lib/s1/reading", "topic", "_rejected"),
    ('wz"lc"lib/s1/reading', "topic", "_rejected"),
    ("wz'lc/s1/reading", "topic", "_rejected"),
    ("wz\\lc/s1/reading", "topic", "_rejected"),
    ("鹿城区图书馆/s1/reading", "topic", "_rejected"),
    ("WZ-LC-LIB-001/s1/reading", "topic", f"{LIBRARY}/s1/rejected"),
    ("WZ-LC-LIB-001/reading", None, f"{LIBRARY}/_rejected"),
    ("-wz/s1/reading", "topic", "_rejected"),
    ("_wz/s1/reading", "topic", "_rejected"),
    ("$SYS/s1/reading", "topic", "_rejected"),
    ("a" * 64 + "/s1/reading", "topic", "_rejected"),
    ("/s1/reading", "topic", "_rejected"),
    (f"{LIBRARY}/sensor 1/reading", "topic", f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/s,1/status", "topic", f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/Sensor1/reading", "topic", f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/传感器/reading", "topic", f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}//reading", "topic", f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/s1/Reading", "topic", f"{LIBRARY}/s1/rejected"),
    (f"{LIBRARY}/s1/readings", "topic", f"{LIBRARY}/s1/rejected"),
    (f"{LIBRARY}/s1/", "topic", f"{LIBRARY}/s1/rejected"),
    (f"{LIBRARY}/s1/reading/", None, f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/s1/x/reading", None, f"{LIBRARY}/_rejected"),
    (f"{LIBRARY}/reading", None, f"{LIBRARY}/_rejected"),
    ("", None, "_rejected"),
    ("alerts", None, "_rejected"),
]


@pytest.mark.parametrize(("rest", "path", "answered"), HOSTILE_TOPICS, ids=[repr(t[0])[:40] for t in HOSTILE_TOPICS])
def test_a_topic_mistake_is_answered_where_its_facilitys_integrator_reads(
    shared: Shared, rest: str, path: str | None, answered: str
) -> None:
    topic = f"{shared.prefix}/{rest}"
    payload = json.dumps({"ts": _ts(), "occupancy": 1}).encode()
    point = expect_refusal(shared, topic, payload, "bad_topic", path, f"{shared.prefix}/{answered}")
    if answered == "_rejected":
        assert point.get("facility") is None
        assert point.get("sensor") is None
    else:
        assert point.get("facility") == LIBRARY  # counted against the facility it belongs to
        assert point.get("sensor") == ("s1" if answered.endswith("s1/rejected") else None)


def test_broker_refuses_control_characters_and_paho_refuses_wildcards(shared: Shared) -> None:
    """What MQTT itself keeps out never reaches the ingester; the parser still refuses it (tested below)."""
    for bad in ("wz\nlc", "wz\tlc", "wz\x7flc"):
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("bad-"),
                             protocol=mqtt.MQTTv5)
        dropped = threading.Event()
        client.on_disconnect = lambda *args, dropped=dropped: dropped.set()
        client.connect(shared.broker.host, shared.broker.port)
        client.loop_start()
        try:
            info = client.publish(f"{shared.prefix}/{bad}/s1/reading", b'{"ts": 1, "occupancy": 1}', qos=1)
            assert dropped.wait(5), "Mosquitto did not close the connection"  # malformed packet
            assert not info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()
    for wildcard in ("#", "+"):
        with pytest.raises(ValueError, match="wildcard"):
            shared.pub.client.publish(f"{shared.prefix}/wz{wildcard}/s1/reading", b"{}", qos=1)
    shared.notices.assert_quiet(0.3)


@pytest.mark.parametrize("facility", ["wz#lc", "wz+lc", "wz\nlc", "wz\x00lc", "#", "+"])
def test_parser_refuses_ids_mqtt_cannot_carry(facility: str) -> None:
    parser = MessageParser(TopicGrammar("facmon/v1"), {LIBRARY: 120}, 35 * 86_400)
    parsed = parser.parse(f"facmon/v1/{facility}/s1/reading", b'{"ts": 1, "occupancy": 1}', TEST_CLOCK.time_ns())
    assert [(r.reason, r.path, r.facility) for r in parsed.refusals] == [(RefusalReason.BAD_TOPIC, "topic", None)]
    assert parsed.readings == []
    parsed = parser.parse(f"facmon/v1/{LIBRARY}/{facility}/reading", b'{"ts": 1, "occupancy": 1}', TEST_CLOCK.time_ns())
    assert [(r.reason, r.path) for r in parsed.refusals] == [(RefusalReason.BAD_TOPIC, "topic")]


def test_own_notices_and_alerts_are_ignored_not_refused(shared: Shared) -> None:
    """Messages on facmon's own output topics are not answered (no notice loop) and not counted as refusals."""
    time.sleep(0.5)  # let the counters catch up with the echo of the previous test's notice
    since = shared.since()
    before = shared.ingester.last_counters()["ignored"]
    spoofed = [
        (f"{shared.prefix}/_rejected", b'{"reason": "spoof"}'),
        (f"{shared.prefix}/{LIBRARY}/s1/rejected", b'{"reason": "spoof"}'),
        (f"{shared.prefix}/alerts/{LIBRARY}", b"not json"),
    ]
    shared.pub.publish_many(spoofed)
    echoed = shared.notices.take(2)  # the listener sees the two spoofed *rejected* messages themselves
    assert {n.topic for n in echoed} == {spoofed[0][0], spoofed[1][0]}
    wait_until(lambda: shared.ingester.last_counters()["ignored"] >= before + 3, what="the spoofed messages")
    shared.notices.assert_quiet(0.3)
    assert shared.reader.points("refusal", where=f"time >= {since}") == []


def test_shared_ingester_stored_no_reading(shared: Shared) -> None:
    assert shared.reader.count("reading") == 0
    assert shared.ingester.running
    assert shared.ingester.last_counters()["accepted"] == 0
