"""The local servers are real: the broker delivers and keeps sessions, the database stores and checks auth."""

from __future__ import annotations

import queue
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from facmon.demo.localstack import LocalInfluxDB, LocalIngester, LocalMosquitto, ServerStartError, free_port

pytestmark = pytest.mark.servers

TIMEOUT = 10.0


@contextmanager
def mqtt_client(
    broker: LocalMosquitto, client_id: str, *, clean_start: bool = True, session_expiry: int = 0
) -> Iterator[tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage], dict[str, bool]]]:
    """A connected MQTT v5 client whose received messages land in a queue; disconnects on exit."""
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    connected = threading.Event()
    info: dict[str, bool] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        info["session_present"] = bool(flags.session_present)
        info["ok"] = not reason_code.is_failure
        connected.set()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.on_connect = on_connect
    client.on_message = lambda client, userdata, msg: received.put(msg)
    props = Properties(PacketTypes.CONNECT)
    if session_expiry:
        props.SessionExpiryInterval = session_expiry
    client.connect(broker.host, broker.port, clean_start=clean_start, properties=props)
    client.loop_start()
    try:
        assert connected.wait(TIMEOUT), "no CONNACK"
        assert info["ok"]
        yield client, received, info
    finally:
        client.disconnect()
        client.loop_stop()


def subscribe(client: mqtt.Client, topic: str) -> None:
    """Subscribe at QoS 1 and wait for the SUBACK, so nothing published afterwards can be missed."""
    done = threading.Event()
    client.on_subscribe = lambda *args: done.set()
    client.subscribe(topic, qos=1)
    assert done.wait(TIMEOUT), "no SUBACK"


def publish_qos1(broker: LocalMosquitto, topic: str, payload: bytes) -> None:
    """Publish one QoS 1 message and wait for the broker's PUBACK."""
    with mqtt_client(broker, f"pub-{uuid.uuid4().hex[:8]}") as (client, _, _):
        msg = client.publish(topic, payload, qos=1)
        msg.wait_for_publish(TIMEOUT)
        assert msg.is_published()


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_mosquitto_config_uses_shipped_settings(mosquitto: LocalMosquitto) -> None:
    text = mosquitto.config_path.read_text()
    assert f"listener {mosquitto.port} 127.0.0.1" in text
    assert "max_queued_messages 2000000" in text
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert mosquitto.running


def test_mosquitto_delivers_qos1(mosquitto: LocalMosquitto) -> None:
    topic = f"facmon/test/{uuid.uuid4().hex}"
    with mqtt_client(mosquitto, f"sub-{uuid.uuid4().hex[:8]}") as (sub, received, _):
        subscribe(sub, topic)
        publish_qos1(mosquitto, topic, b"hello")
        msg = received.get(timeout=TIMEOUT)
    assert msg.topic == topic
    assert msg.payload == b"hello"
    assert msg.qos == 1


def test_mosquitto_keeps_queued_message_across_restart(fresh_mosquitto: LocalMosquitto) -> None:
    broker = fresh_mosquitto
    topic = "facmon/test/queued"
    client_id = f"ingester-{uuid.uuid4().hex[:8]}"
    # clean_start=False from the very first CONNECT: Mosquitto 2.0.11 writes only such sessions to its store,
    # so a session begun with clean_start=True (paho's default on a first connect) is lost on restart even
    # with a session expiry interval.
    with mqtt_client(broker, client_id, clean_start=False, session_expiry=3600) as (sub, _, _):
        subscribe(sub, topic)
    publish_qos1(broker, topic, b"while-away")  # the subscriber is gone; the broker queues it in the session

    port = broker.port
    broker.restart()  # clean stop: Mosquitto writes the session and its queue to mosquitto.db
    assert broker.port == port
    assert (broker.workdir / "mosquitto.db").exists()

    with mqtt_client(broker, client_id, clean_start=False, session_expiry=3600) as (_, received, info):
        assert info["session_present"]
        msg = received.get(timeout=TIMEOUT)
    assert msg.payload == b"while-away"


def test_mosquitto_without_persistence_forgets_sessions(tmp_path: Path) -> None:
    with LocalMosquitto(tmp_path, persistence=False) as broker:
        client_id = f"ingester-{uuid.uuid4().hex[:8]}"
        with mqtt_client(broker, client_id, clean_start=False, session_expiry=3600) as (sub, _, _):
            subscribe(sub, "facmon/test/x")
        broker.restart()
        with mqtt_client(broker, client_id, clean_start=False, session_expiry=3600) as (_, _, info):
            assert not info["session_present"]
    assert not broker.running
    assert not (tmp_path / "mosquitto.db").exists()


def test_influxdb_write_then_query(influxdb: LocalInfluxDB, influx_db_name: str) -> None:
    influxdb.query(f'CREATE DATABASE "{influx_db_name}"')
    influxdb.write(influx_db_name, "occupancy,facility=pool-1 people=12i 1700000000000000000\n")
    result = influxdb.query("SELECT people FROM occupancy", db=influx_db_name)
    series = result["results"][0]["series"][0]
    assert series["columns"] == ["time", "people"]
    assert series["values"] == [["2023-11-14T22:13:20Z", 12]]


def test_influxdb_auth_refuses_anonymous_and_accepts_admin(tmp_path: Path) -> None:
    with LocalInfluxDB(tmp_path, auth=True) as db:
        url = f"{db.url}/query?" + urllib.parse.urlencode({"q": "SHOW DATABASES"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=TIMEOUT)
        refused.value.close()
        assert refused.value.code == 401

        assert db.admin_user == "admin"
        assert db.admin_password
        assert "results" in db.query("SHOW DATABASES")
        db.restart()  # the admin exists already; start-up must log in rather than create it again
        assert "error" not in db.query("SHOW USERS")["results"][0]


# -- the ingester as a child process (the demo's) ------------------------------------------------------------------
def test_local_ingester_writes_with_its_own_settings_and_stops_cleanly(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.integration.ingester import LIBRARY, REGISTRY_YAML, InfluxReader, clock_env, now_ms, publisher, unique

    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    prefix = unique("t") + "/v1"
    monkeypatch.setenv("FACMON_INFLUX_DB", "not_this_one")  # ours must not leak into the child
    settings = {"FACMON_MQTT_URL": mosquitto.url, "FACMON_INFLUX_URL": influxdb.url,
                "FACMON_INFLUX_DB": influx_db_name, "FACMON_REGISTRY": str(registry), "FACMON_TOPIC_PREFIX": prefix,
                **clock_env(now_ms())}  # its clock follows the tests', so a reading of a minute ago is past
    client_id = unique("ingest-")
    ingester = LocalIngester(tmp_path / "ingester", settings, ["--client-id", client_id])
    with ingester:
        assert ingester.running
        assert ingester.pid is not None
        assert ingester.startup_seconds is not None
        assert client_id in Path(f"/proc/{ingester.pid}/cmdline").read_text()
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish(f"{prefix}/{LIBRARY}/door-1/reading", f'{{"ts": {now_ms() - 60_000}, "occupancy": 7}}')
        reader = InfluxReader(influxdb.url, influx_db_name)
        points = reader.wait_points("reading", 1)
        assert points[0]["occupancy"] == 7
    assert not ingester.running
    log = ingester.output_path.read_text()
    assert "stopped: received=1 written=1" in log  # SIGTERM: wrote what it took, then exited
    assert "not_this_one" not in log


@pytest.mark.parametrize("registry", ["registry.yaml", "missing.yaml"])
def test_an_ingester_that_cannot_start_is_not_left_running(tmp_path: Path, registry: str) -> None:
    """Nothing answers on its ports: it is killed after start_timeout; no registry: it exits at once."""
    from tests.integration.ingester import REGISTRY_YAML

    (tmp_path / "registry.yaml").write_text(REGISTRY_YAML, encoding="utf-8")
    ingester = LocalIngester(tmp_path, {"FACMON_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}",
                                        "FACMON_INFLUX_URL": f"http://127.0.0.1:{free_port()}",
                                        "FACMON_REGISTRY": str(tmp_path / registry)})
    ingester.start_timeout = 3.0
    with pytest.raises(ServerStartError, match=r"ingester (not ready within 3 s|exited with code 2)"):
        ingester.start()
    assert not ingester.running


class _InterruptedBroker(LocalMosquitto):
    def _is_ready(self) -> bool:
        raise KeyboardInterrupt  # Ctrl-C while the broker starts


def test_a_ctrl_c_during_start_up_leaves_no_server_behind(tmp_path: Path) -> None:
    broker = _InterruptedBroker(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        broker.start()
    assert not broker.running
    assert broker.pid is None
    ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(broker.config_path) not in ps
