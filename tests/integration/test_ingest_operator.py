"""What the operator is told (issue 19): silence from open facilities raises an alert on MQTT, and
`facmon check-config` says whether an ingester's subscription is live — against the real broker and InfluxDB."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.access.checkconfig import check_ingester
from facmon.core.settings import Settings
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from ingest.service import Ingester
from sensors.registry import parse_registry
from tests.conftest import TEST_NOW
from tests.integration.ingester import (
    TIMEOUT,
    IngesterFactory,
    Publisher,
    make_ingester,
    now_ms,
    publisher,
    reader,
    unique,
    wait_until,
)

__all__ = ["make_ingester", "reader"]  # fixtures used by name
pytestmark = pytest.mark.servers

ALWAYS_OPEN = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def prefix() -> str:
    return unique("o") + "/v1"


@pytest.fixture
def pub(mosquitto: LocalMosquitto) -> Iterator[Publisher]:
    with publisher(mosquitto.host, mosquitto.port) as p:
        yield p


def subscriber(mosquitto: LocalMosquitto, topic: str) -> tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]:
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("op-"))
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = lambda _c, _u, message: got.put(message)
    client.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    assert ready.wait(TIMEOUT)
    return client, got


def test_check_config_says_whether_the_ingester_subscription_is_live(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, prefix: str
) -> None:
    settings = Settings(mqtt_url=mosquitto.url, topic_prefix=prefix)
    ingester = make_ingester()
    ingester.start()
    live = check_ingester(settings, timeout=5)
    assert live.ok, live
    assert live.advisory
    assert live.detail.startswith(f"live: {ingester.client_id} (received "), live
    code, log = ingester.stop()
    assert code == 0, log
    gone = check_ingester(settings, timeout=1)
    assert not gone.ok
    assert gone.advisory
    assert f"NOT LIVE: no ingester answered a probe on {prefix}/alerts/_probe/" in gone.detail


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_silence_of_the_open_facilities_raises_one_operator_alert_and_its_end_another(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, pub: Publisher, prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = parse_registry({"facilities": [
        {"id": "hall-1", "name": "H", "type": "library", "region": "a/b", "capacity": 10,
         "opening_hours": ALWAYS_OPEN},
    ]})
    settings = Settings(mqtt_url=mosquitto.url, influx_url=influxdb.url, influx_db=influx_db_name,
                        topic_prefix=prefix, mqtt_client_id=unique("ingest-"), silence_alert="30m",
                        now=TEST_NOW)  # the pipeline's clock: the one now_ms() reads (the silence watch has its own)
    caplog.set_level(logging.INFO, logger="ingest.service")
    clock = Clock()
    ingester = Ingester(settings, registry, now=clock)
    operator, alerts = subscriber(mosquitto, f"{prefix}/alerts/_ingest")
    ingester.start()
    try:
        assert ingester.connected.wait(TIMEOUT)
        clock.t += 1799
        ingester.check_silence()
        assert alerts.empty()
        clock.t += 1
        ingester.check_silence()
        alert = json.loads(alerts.get(timeout=TIMEOUT).payload)
        assert (alert["alert"], alert["expected"], alert["heard"]) == ("silence", 1, 0), alert
        assert "SILENCE: only 0 of the 1 facilities open throughout the last 30 min" in caplog.text
        assert [r.levelname for r in caplog.records if "SILENCE" in r.message] == ["ERROR"]
        ingester.log_stats()
        assert "silent=1 silence_alerts=1" in caplog.text

        pub.publish(f"{prefix}/hall-1/door-1/reading", json.dumps({"ts": now_ms(), "occupancy": 1}))
        wait_until(lambda: "hall-1" in ingester.pipeline.heard, what="the reading to be taken")
        clock.t += 60
        ingester.check_silence()
        over = json.loads(alerts.get(timeout=TIMEOUT).payload)
        assert (over["alert"], over["heard"]) == ("silence_over", 1), over
        # Retained: an operator who looks later sees the current state.
        _late, late_alerts = subscriber(mosquitto, f"{prefix}/alerts/_ingest")
        assert json.loads(late_alerts.get(timeout=TIMEOUT).payload)["alert"] == "silence_over"
        _late.disconnect()
    finally:
        ingester.shutdown(timeout=10)
        operator.disconnect()
        operator.loop_stop()
