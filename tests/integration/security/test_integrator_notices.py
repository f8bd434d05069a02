"""Issue 17: every refusal that can be attributed reaches its sender, with the files `facmon broker-config` makes.

Two integrators publish the mistakes integrators make — a topic in capitals, `…/readings`, a sensor id the
contract refuses, a sensor level missing, a bad reading — through the generated dynamic-security rules, to a real
ingester logged in with its generated account. Each integrator, subscribed to everything it may read, gets every
one of its own notices and none of the other's: beta's notices were published by the ingester before alpha made
its first mistake, and the broker keeps one publisher's messages in order, so any of them alpha could read would
come before its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from sensors.contract import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES
from tests.integration.ingester import IngesterProcess, now_ms, unique
from tests.integration.security.clients import TIMEOUT, Account
from tests.integration.security.conftest import (
    ALPHA,
    BETA,
    COMMUNITY,
    INGEST_USER,
    LIBRARY,
    BrokerFiles,
    ingester_process,
)

pytestmark = pytest.mark.servers


@pytest.fixture
def ingester(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, influxdb: LocalInfluxDB, influx_db_name: str,
    tmp_path: Path,
) -> Iterator[IngesterProcess]:
    process = ingester_process(tmp_path / "ingester", broker_files, influxdb.url, influx_db_name)
    process.start()
    try:
        yield process
    finally:
        code, log = process.stop()
        assert code == 0, log


def mistakes(prefix: str, facility: str) -> list[tuple[str, str, str]]:
    """(topic, payload, where its notice must arrive) for the usual mistakes under one facility."""
    ok = json.dumps({"ts": now_ms() - 1000, "occupancy": 1})
    return [
        (f"{prefix}/{facility.upper()}/door-1/reading", ok, f"{prefix}/{facility}/door-1/rejected"),
        (f"{prefix}/{facility}/door-1/readings", ok, f"{prefix}/{facility}/door-1/rejected"),
        (f"{prefix}/{facility}/Door-1/reading", ok, f"{prefix}/{facility}/_rejected"),
        (f"{prefix}/{facility}/reading", ok, f"{prefix}/{facility}/_rejected"),
        (f"{prefix}/{facility}/door-1/reading", json.dumps({"ts": 1, "occupancy": -3}),
         f"{prefix}/{facility}/door-1/rejected"),
    ]


def take(account: Account, count: int) -> list[str]:
    """The topics of the next `count` messages the account receives."""
    return [account.messages.get(timeout=TIMEOUT)[0] for _ in range(count)]


def test_each_integrator_receives_its_own_notices_and_none_of_the_others(
    ingester: IngesterProcess, broker_files: BrokerFiles
) -> None:
    p = broker_files.prefix
    alpha = Account(broker_files.port, ALPHA, broker_files.passwords[ALPHA])
    beta = Account(broker_files.port, BETA, broker_files.passwords[BETA])
    try:
        for account in (alpha, beta):
            account.subscribe(f"{p}/#")
        beta_cases = mistakes(p, COMMUNITY)
        for topic, payload, _ in beta_cases:
            beta.publish(topic, payload)
        assert take(beta, len(beta_cases)) == [where for _, _, where in beta_cases]
        alpha_cases = mistakes(p, LIBRARY)
        for topic, payload, _ in alpha_cases:
            alpha.publish(topic, payload)
        # its own, in order; any of beta's would have come first
        assert take(alpha, len(alpha_cases)) == [where for _, _, where in alpha_cases]
        ingester.wait_for_log(r"counters .*refused=\[bad_topic=8 out_of_range=2\].* unattributed=0 ")
    finally:
        alpha.close()
        beta.close()


class Sender:
    """One integrator connection that publishes a single big message and records how the broker answered."""

    def __init__(self, files: BrokerFiles, protocol: int) -> None:
        self.disconnected = threading.Event()
        self.reason: ReasonCode | None = None
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="", protocol=protocol)
        self.client.username_pw_set(ALPHA, files.passwords[ALPHA])
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.on_disconnect = self._on_disconnect
        self.client.connect("127.0.0.1", files.port)
        self.client.loop_start()
        assert connected.wait(TIMEOUT)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self.reason = reason
        self.disconnected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt3.1.1", "mqtt5"])
def test_every_packet_the_broker_takes_is_answered_and_a_bigger_one_is_refused_as_readme_says(
    ingester: IngesterProcess, broker_files: BrokerFiles, protocol: int
) -> None:
    p = broker_files.prefix
    sensor = unique("big-")  # a sensor with no retained notice from another test
    topic = f"{p}/{LIBRARY}/{sensor}/reading"
    # alpha's client id is its login, so the notices are watched on the services' listener, not by a second alpha
    listener = Account(broker_files.services_port, INGEST_USER, broker_files.passwords[INGEST_USER])
    sender = Sender(broker_files, protocol)
    try:
        listener.subscribe(f"{p}/{LIBRARY}/{sensor}/rejected")
        # the largest packet the broker takes (Mosquitto counts the first header byte and the remaining length: topic
        # length and topic, packet id, MQTT 5's property length, payload): over the payload limit, so a notice
        room = MAX_PACKET_BYTES - 1 - 2 - len(topic.encode()) - 2 - (1 if protocol == mqtt.MQTTv5 else 0)
        fits = sender.client.publish(topic, b"x" * room, qos=1)
        fits.wait_for_publish(TIMEOUT)
        [(notice_topic, body)] = [listener.messages.get(timeout=TIMEOUT)]
        notice = json.loads(body)
        assert (notice_topic, notice["reason"]) == (f"{p}/{LIBRARY}/{sensor}/rejected", "oversize")
        assert f"limit {MAX_PAYLOAD_BYTES}" in notice["detail"]
        assert not sender.disconnected.is_set()
        # one byte more: the broker drops the connection; an MQTT 5 client is told why
        sender.client.publish(topic, b"x" * (room + 1), qos=1)
        assert sender.disconnected.wait(TIMEOUT), "the broker kept the connection"
        assert sender.reason is not None
        if protocol == mqtt.MQTTv5:
            assert str(sender.reason) == "Packet too large"
        else:
            assert sender.reason.is_failure  # 3.1.1 has no reason codes: the connection is just lost
    finally:
        sender.close()
        listener.close()
