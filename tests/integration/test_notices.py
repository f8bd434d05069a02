"""Issue 17: a notice explains everything in one round, and the last one waits, retained, for a device that
subscribes later — until the sensor's next accepted reading clears it. Real ingester, Mosquitto and InfluxDB."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import (
    LIBRARY,
    TIMEOUT,
    InfluxReader,
    IngesterProcess,
    NoticeListener,
    Publisher,
    now_ms,
    unique,
)

pytestmark = pytest.mark.servers


class Late:
    """A device that subscribes after the fact: what the broker replays to it (retained), then a barrier."""

    def __init__(self, broker: LocalMosquitto, *topics: str) -> None:
        self.got: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("late-"))
        subscribed = threading.Semaphore(0)
        self.client.on_subscribe = lambda *args: subscribed.release()
        self.client.on_message = lambda _c, _u, m: self.got.put((m.topic, m.payload, m.retain))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        for _ in topics:
            assert subscribed.acquire(timeout=TIMEOUT)

    def until(self, barrier: str) -> list[tuple[str, bytes, bool]]:
        seen = []
        while not seen or seen[-1][0] != barrier:
            seen.append(self.got.get(timeout=TIMEOUT))
        return seen[:-1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def stack(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        dict[str, Any]]:
    prefix = unique("n") + "/v1"
    ingester = IngesterProcess(tmp_path_factory.mktemp("notices"), mqtt_url=mosquitto.url, influx_url=influxdb.url,
                               influx_db="t_" + unique(""), topic_prefix=prefix,
                               env={"FACMON_FLUSH_INTERVAL": "0.05"})
    ingester.start()
    listener = NoticeListener(mosquitto.host, mosquitto.port, prefix)
    pub = Publisher(mosquitto.host, mosquitto.port)
    try:
        yield {"prefix": prefix, "ingester": ingester, "notices": listener, "pub": pub, "broker": mosquitto,
               "reader": InfluxReader(influxdb.url, ingester.env["FACMON_INFLUX_DB"])}
    finally:
        pub.close()
        listener.close()
        code, log = ingester.stop()
        assert code == 0, log


def test_a_notice_lists_every_problem_and_shows_the_ts_as_dates(stack: dict[str, Any]) -> None:
    p = stack["prefix"]
    stack["pub"].publish(f"{p}/{LIBRARY}/door-1/reading", json.dumps({"ts": 1, "occupancy": -3, "temp": 2}))
    [notice] = stack["notices"].take(1)
    body = notice.body
    assert body["reason"] == "unknown_field"  # the first problem is the reason the refusal is counted under
    assert [(e["reason"], e["path"]) for e in body["errors"]] == [
        ("unknown_field", "temp"), ("out_of_range", "occupancy"), ("ts_too_old", "ts"),
    ]
    assert body["ts"] == {"utc": "1970-01-01T00:00:01Z", "local": "1970-01-01T08:00:01+08:00",
                          "zone": "Asia/Shanghai"}
    [old] = [e for e in body["errors"] if e["reason"] == "ts_too_old"]
    assert "1970-01-01T00:00:01Z is " in old["detail"]
    assert old["detail"].endswith("the maximum age is 35 days (FACMON_MAX_READING_AGE)")
    assert " s)" not in old["detail"]


def test_the_last_notice_is_retained_until_the_sensors_next_accepted_reading(stack: dict[str, Any]) -> None:
    p, pub, broker = stack["prefix"], stack["pub"], stack["broker"]
    notice_topic, barrier = f"{p}/{LIBRARY}/door-7/rejected", unique("barrier-") + "/x"  # not under the prefix
    pub.publish(f"{p}/{LIBRARY}/door-7/reading", json.dumps({"ts": now_ms(), "occupancy": "5"}))
    pub.publish(f"{p}/{LIBRARY}/door-7/reading", json.dumps({"ts": now_ms(), "occupancy": -1}))
    assert [n.body["reason"] for n in stack["notices"].take(2)] == ["wrong_type", "out_of_range"]
    late = Late(broker, notice_topic, barrier)
    try:
        pub.publish(barrier, b"x")
        [(topic, payload, retained)] = late.until(barrier)  # the device that was away learns why, once
        assert (topic, retained, json.loads(payload)["reason"]) == (notice_topic, True, "out_of_range")
        pub.publish(f"{p}/{LIBRARY}/door-7/reading", json.dumps({"ts": now_ms(), "occupancy": 5}))
        topic, payload, retained = late.got.get(timeout=TIMEOUT)  # the clear, live
        assert (topic, payload) == (notice_topic, b"")
    finally:
        late.close()
    again = Late(broker, notice_topic, barrier)
    try:
        pub.publish(barrier, b"y")
        assert again.until(barrier) == []  # nothing retained any more
    finally:
        again.close()
    stack["reader"].wait_points("reading", 1)
