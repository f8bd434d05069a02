"""Issue 19's broker attacks, re-run against the broker files `facmon broker-config` makes: an integrator holding
its own password tries to take over, unsubscribe, kick or drain the ingester's session, kick another integrator's
device, join the ingesters' share group, fill the broker with retained messages and hold connections half-open.

Each attack worked with the single-listener configuration of before (client ids bound to nothing, every
subscription granted, no limits). "Not delivered" is shown with a barrier (clients.py), never with a sleep.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, free_port
from tests.integration.ingester import InfluxReader, IngesterProcess, now_ms, unique
from tests.integration.security.clients import TIMEOUT
from tests.integration.security.conftest import (
    ALPHA,
    BETA,
    COMMUNITY,
    INGEST_USER,
    LIBRARY,
    REGISTRY_YAML,
    BrokerFiles,
    run_facmon,
    start_broker,
)

pytestmark = pytest.mark.servers

SERVICE_CLIENT_ID = "facmon-ingest"


class Session:
    """One connection with a chosen client id and session kind; records messages, SUBACKs and disconnects."""

    def __init__(self, port: int, user: str, password: str, client_id: str, *, clean: bool = True,
                 will: str | None = None) -> None:
        self.messages: queue.Queue[str] = queue.Queue()
        self.subacks: queue.Queue[list[Any]] = queue.Queue()
        self.disconnects = 0
        self._connack = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, password)
        if will is not None:
            self.client.will_set(will, b"offline", qos=1, retain=True)
        self.client.on_connect = lambda *args: self._connack.set()
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg.topic)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.subacks.put(list(codes))
        self.client.on_disconnect = lambda *args: setattr(self, "disconnects", self.disconnects + 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connack.wait(TIMEOUT), f"no CONNACK for {user}"

    def subscribe(self, topic: str) -> list[Any]:
        self.client.subscribe(topic, qos=1)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT)

    def received_until(self, barrier: str) -> list[str]:
        topics = []
        while not topics or topics[-1] != barrier:
            topics.append(self.messages.get(timeout=TIMEOUT))
        return topics

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    made: list[Session] = []
    yield made
    for session in made:
        session.close()


def test_an_integrator_cannot_take_over_unsubscribe_kick_or_drain_the_ingesters_session(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, sessions: list[Session]
) -> None:
    p, pw = broker_files.prefix, broker_files.passwords
    ingester = Session(broker_files.services_port, INGEST_USER, pw[INGEST_USER], SERVICE_CLIENT_ID, clean=False)
    sessions.append(ingester)
    ingester.subscribe(f"{p}/#")
    # Takeover with clean_session=False, then UNSUBSCRIBE on the "resumed" session; then a kick loop.
    attacker = Session(broker_files.port, ALPHA, pw[ALPHA], SERVICE_CLIENT_ID, clean=False)
    sessions.append(attacker)
    attacker.client.unsubscribe(f"{p}/#")
    for _ in range(20):
        Session(broker_files.port, ALPHA, pw[ALPHA], SERVICE_CLIENT_ID, clean=False).close()
    beta = Session(broker_files.port, BETA, pw[BETA], "anything")
    sessions.append(beta)
    beta.publish(f"{p}/{COMMUNITY}/hall/reading", b"{}")
    assert ingester.received_until(f"{p}/{COMMUNITY}/hall/reading") == [f"{p}/{COMMUNITY}/hall/reading"]
    assert ingester.disconnects == 0
    assert attacker.messages.empty()  # nothing of the ingester's queue reached the attacker


def test_an_integrator_cannot_kick_another_integrators_device(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, sessions: list[Session]
) -> None:
    p, pw = broker_files.prefix, broker_files.passwords
    watcher = Session(broker_files.services_port, INGEST_USER, pw[INGEST_USER], unique("facmon-watch-"))
    sessions.append(watcher)
    watcher.subscribe(f"{p}/+/+/status")
    watcher.subscribe(f"{p}/+/+/reading")
    status = f"{p}/{COMMUNITY}/gw/status"
    device = Session(broker_files.port, BETA, pw[BETA], "beta-gateway-1", will=status)
    sessions.append(device)
    for _ in range(5):  # alpha connects with beta's login name and with the id beta's firmware chose
        for client_id in (BETA, "beta-gateway-1"):
            Session(broker_files.port, ALPHA, pw[ALPHA], client_id).close()
    device.publish(f"{p}/{COMMUNITY}/gw/reading", b"{}")
    assert watcher.received_until(f"{p}/{COMMUNITY}/gw/reading") == [f"{p}/{COMMUNITY}/gw/reading"]  # no Will
    assert device.disconnects == 0


def test_an_integrator_cannot_join_the_ingesters_share_group(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, influxdb: LocalInfluxDB, influx_db_name: str,
    tmp_path: Path, sessions: list[Session],
) -> None:
    p, pw, group = broker_files.prefix, broker_files.passwords, unique("ingesters")
    ingester = IngesterProcess(
        tmp_path / "ingester", mqtt_url=f"mqtt://{INGEST_USER}:{pw[INGEST_USER]}@127.0.0.1:{broker_files.services_port}",
        influx_url=influxdb.url, influx_db=influx_db_name, topic_prefix=p, client_id=unique("facmon-ingest-"),
        registry_text=REGISTRY_YAML, env={"FACMON_MQTT_SHARE_GROUP": group},
    )
    ingester.start()
    try:
        ingester.wait_for_log(rf"subscribed to \$share/{group}/")
        alpha = Session(broker_files.port, ALPHA, pw[ALPHA], "alpha-1")
        sessions.append(alpha)
        for topic in (f"$share/{group}/{p}/#", f"$share/{group}/{p}/+/+/reading", f"$share/{group}/#"):
            [code] = alpha.subscribe(topic)
            assert code.is_failure, (topic, code)
        beta = Session(broker_files.port, BETA, pw[BETA], "beta-1")
        sessions.append(beta)
        ts = now_ms() - 60_000
        for n in range(20):
            beta.publish(f"{p}/{COMMUNITY}/door-{n}/reading", json.dumps({"ts": ts, "occupancy": n}))
        points = InfluxReader(influxdb.url, influx_db_name).wait_points("reading", 20)
        assert sorted(point["sensor"] for point in points) == sorted(f"door-{n}" for n in range(20))
        assert alpha.messages.empty()
    finally:
        code, log = ingester.stop()
    assert code == 0, log


@dataclass(frozen=True)
class Tight:
    broker: LocalMosquitto
    port: int
    services_port: int


@pytest.fixture
def tight_broker(tmp_path: Path, broker_files: BrokerFiles) -> Iterator[Tight]:
    """The same accounts with small limits, so the limits can be reached quickly."""
    port, services_port = free_port(), free_port()
    result = run_facmon(
        "broker-config", "--registry", str(broker_files.registry), "--integrators", str(broker_files.integrators),
        "--out", str(tmp_path / "out"), "--topic-prefix", broker_files.prefix, "--bind", "127.0.0.1",
        "--port", str(port), "--services-port", str(services_port), "--max-connections", "20",
        "--memory-limit", "48", env=broker_files.env,
    )
    assert result.returncode == 0, result.stderr
    broker = start_broker(tmp_path / "mosquitto", (tmp_path / "out" / "mosquitto.conf").read_text())
    yield Tight(broker, port, services_port)
    broker.stop()


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(TIMEOUT)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_half_open_connections_are_capped_per_listener_and_never_lock_out_the_services(
    tight_broker: Tight, broker_files: BrokerFiles, sessions: list[Session]
) -> None:
    held = [socket.create_connection(("127.0.0.1", tight_broker.port)) for _ in range(20)]
    try:
        # A Session that gets a CONNACK proves the broker has taken every socket opened before it.
        extra = [socket.create_connection(("127.0.0.1", tight_broker.port)) for _ in range(5)]
        assert all(closed_by_peer(sock) for sock in extra)  # refused at once beyond max_connections
        for sock in extra:
            sock.close()
        pw = broker_files.passwords
        ingester = Session(tight_broker.services_port, INGEST_USER, pw[INGEST_USER], SERVICE_CLIENT_ID)
        sessions.append(ingester)
        assert ingester.disconnects == 0
    finally:
        for sock in held:
            sock.close()


def test_a_retained_flood_is_cut_off_by_the_brokers_memory_ceiling(
    tight_broker: Tight, broker_files: BrokerFiles, sessions: list[Session]
) -> None:
    pw, p = broker_files.passwords, broker_files.prefix
    flooder = Session(tight_broker.port, ALPHA, pw[ALPHA], "alpha-flood")
    sessions.append(flooder)
    payload = b"x" * 200_000
    sent = 0
    while sent < 1000 and flooder.disconnects == 0 and flooder.client.is_connected():
        info = flooder.client.publish(f"{p}/{LIBRARY}/s{sent}/reading", payload, qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            break
        try:
            info.wait_for_publish(TIMEOUT)
        except RuntimeError:  # the connection was dropped under it
            break
        if not info.is_published():
            break
        sent += 1
    # Cut off at the ceiling: 1,000 of them (200 MB) went in before; now about 48 MiB worth at most.
    assert sent * len(payload) <= 48 * 1024 * 1024, f"{sent} retained messages of 200 kB went into a 48 MiB broker"
    assert tight_broker.broker.running
    ingester = Session(tight_broker.services_port, INGEST_USER, pw[INGEST_USER], SERVICE_CLIENT_ID)
    sessions.append(ingester)
    assert ingester.disconnects == 0
