"""`facmon demo` (`make demo`): the whole data path on this machine, started and stopped in one command.

Starts Mosquitto and InfluxDB on free ports in a temporary directory, runs the ingester against them with the
example registry, publishes a few readings the way a device would (one good, one store-and-forward batch, one
bad), then shows what InfluxDB holds and the refusal notice the device received, and stops everything.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from facmon.localstack import LocalInfluxDB, LocalMosquitto, ServerUnavailable
from facmon.settings import load_settings
from ingest.influx import InfluxClient
from ingest.influxql import literal
from ingest.service import Ingester
from sensors.contract import TopicGrammar
from sensors.registry import load_registry

_SHOW_READINGS = "SELECT * FROM reading"
EXAMPLE_REGISTRY = Path(__file__).resolve().parent.parent / "examples" / "registry.yaml"


def _say(text: str) -> None:
    print(text, flush=True)


def _publish(url_port: int, messages: list[tuple[str, str]], notices: list[str]) -> None:
    """Publish like a device (QoS 1) while listening for refusal notices."""
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="facmon-demo-device")
    client.on_message = lambda c, u, m: notices.append(f"{m.topic}\n    {m.payload.decode()}")
    client.connect("127.0.0.1", url_port)
    client.subscribe("facmon/v1/+/+/rejected", qos=1)
    client.loop_start()
    time.sleep(0.3)
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
        _say(f"  published {topic}  {payload}")
    time.sleep(1.5)
    client.loop_stop()
    client.disconnect()


def run_demo(keep_running: bool = False) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    registry = load_registry(EXAMPLE_REGISTRY)
    facility = registry.facilities[0]
    grammar = TopicGrammar("facmon/v1")
    with tempfile.TemporaryDirectory(prefix="facmon-demo-") as tmp:
        work = Path(tmp)
        try:
            mosquitto = LocalMosquitto(work / "mosquitto")
            influxdb = LocalInfluxDB(work / "influxdb")
        except ServerUnavailable as exc:
            _say(f"facmon demo: {exc}\nRun `make demo`, which installs Mosquitto and InfluxDB first.")
            return 1
        with mosquitto, influxdb:
            _say(f"Mosquitto on {mosquitto.url}, InfluxDB on {influxdb.url} (temporary, in {tmp})")
            settings = load_settings({
                "mqtt_url": mosquitto.url, "influx_url": influxdb.url, "influx_db": "facmon",
                "registry": str(EXAMPLE_REGISTRY), "stats_interval": 3600,
            })
            ingester = Ingester(settings, registry)
            stop = threading.Event()
            runner = threading.Thread(target=ingester.run, args=(stop,), daemon=True)
            runner.start()
            if not ingester.connected.wait(10):
                _say("facmon demo: the ingester did not connect to the broker")
                return 1
            now = datetime.now(UTC).replace(microsecond=0)
            topic = grammar.reading(facility.id, "door-1")
            batch = [{"ts": (now - timedelta(minutes=15 * k)).isoformat(), "occupancy": 10 + k, "entries": k}
                     for k in (3, 2, 1)]
            messages = [
                (topic, json.dumps({"ts": now.isoformat(), "occupancy": 14, "entries": 2, "exits": 1})),
                (topic, json.dumps(batch)),
                (topic, json.dumps({"ts": now.isoformat(), "occupancy": "14"})),
            ]
            _say(f"\nA device of {facility.name} ({facility.id}) publishes:")
            notices: list[str] = []
            _publish(mosquitto.port, messages, notices)
            time.sleep(settings.flush_interval * 2)
            influx = InfluxClient(influxdb.url, "facmon")
            query = "SELECT occupancy, entries, sensor, region FROM reading WHERE facility = " + literal(facility.id)  # noqa: S608 (quoted by literal)
            rows = influx.query(query)
            _say("\nInfluxDB now holds (measurement `reading`):")
            for series in rows[0].get("series", []):
                for values in series["values"]:
                    _say("  " + "  ".join(f"{c}={v}" for c, v in zip(series["columns"], values, strict=True)))
            _say("\nThe device was told why its bad message was refused:")
            for notice in notices:
                _say("  " + notice)
            if keep_running:
                _say(f"\nStack running. Try:\n  mosquitto_pub -p {mosquitto.port} -q 1 -t {topic} "
                     f"-m '{{\"ts\": {int(time.time())}, \"occupancy\": 3}}'\n"
                     f"  influx -port {influxdb.port} -database facmon -execute '{_SHOW_READINGS}'\n"
                     "Press Ctrl-C to stop.")
                try:
                    while True:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
            stop.set()
            runner.join(30)
            influx.close()
    _say("\nStopped Mosquitto, InfluxDB and the ingester; nothing is left running.")
    return 0
