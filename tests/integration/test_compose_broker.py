"""The compose stack's broker, without Docker: `facmon broker-config` with the compose integrators file writes the
files, Mosquitto starts from deploy/mosquitto/compose.conf including them, the compose healthcheck's command
says healthy, and the accounts compose gives the ingester and the simulator work on the services' listener
(anonymous clients do not)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from facmon.access.rules import DYNSEC_PLUGIN
from facmon.cli.main import main
from facmon.demo.localstack import ServerUnavailable, free_port, require_binary
from tests.conftest import server_missing
from tests.unit.test_compose import ROOT, SERVICES, filled_env, resolved

pytestmark = pytest.mark.servers


def client(port: int, user: str | None, password: str | None) -> tuple[paho.Client, threading.Event, list]:
    connected, received = threading.Event(), []
    mqtt = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"compose-{uuid.uuid4().hex[:8]}")
    if user:
        mqtt.username_pw_set(user, password)
    mqtt.on_connect = lambda c, u, f, reason, p: (received.append(reason), connected.set())
    mqtt.on_message = lambda c, u, message: received.append(message.topic)
    mqtt.connect("127.0.0.1", port)
    mqtt.loop_start()
    assert connected.wait(5), "no CONNACK"
    return mqtt, connected, received


@pytest.fixture
def broker(tmp_path, monkeypatch):
    try:
        exe = require_binary("mosquitto")
        require_binary("mosquitto_passwd")
    except ServerUnavailable as exc:
        server_missing(exc)
    env = filled_env(simulator=True)
    for name in SERVICES["broker-config"]["environment"]:  # the passwords broker-config reads, as compose gives
        monkeypatch.setenv(name, env[name])
    port, services_port = free_port(), free_port()
    generated, data = tmp_path / "generated", tmp_path / "data"
    data.mkdir()
    command = resolved(env)["services"]["broker-config"]["command"]
    integrators = ROOT / "deploy" / "compose" / "integrators.yaml"
    args = [*command[1:command.index("--out")], "--out", str(generated), "--install-dir", str(generated),
            "--port", str(port), "--bind", "127.0.0.1", "--services-port", str(services_port),
            "--services-bind", "127.0.0.1", "--dynsec-plugin", DYNSEC_PLUGIN, "--simulator"]
    args[args.index("/etc/facmon/registry.yaml")] = str(ROOT / "examples" / "registry.yaml")
    args[args.index("/etc/facmon/integrators.yaml")] = str(integrators)
    assert main(args) == 0
    conf = (ROOT / "deploy" / "mosquitto" / "compose.conf").read_text()
    conf = conf.replace("/mosquitto/data/", f"{data}/").replace("/mosquitto/generated", str(generated))
    if os.geteuid() == 0:
        conf += "user root\n"  # as root Mosquitto drops to `mosquitto`, who cannot read our temporary files
    (tmp_path / "compose.conf").write_text(conf)
    log = (tmp_path / "mosquitto.out").open("wb")
    process = subprocess.Popen([exe, "-c", str(tmp_path / "compose.conf")], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, services_port, env
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def healthcheck(port: int) -> int:
    test = SERVICES["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    shell = test[1].replace("-p 1883", f"-p {port}")
    return subprocess.run(["sh", "-c", shell], check=False, timeout=20).returncode


def test_the_compose_broker_starts_authenticates_and_routes(broker):
    port, services_port, env = broker
    if shutil.which("mosquitto_sub", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin") is None:
        server_missing("mosquitto_sub (mosquitto-clients) is not installed")
    deadline = time.monotonic() + 10
    while healthcheck(port) != 0:
        assert time.monotonic() < deadline, "the compose healthcheck never said healthy"
        time.sleep(0.3)
    settings = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "FACMON_MQTT_URL" in settings["ingest"]["environment"]
    ingest, _, got = client(services_port, "facmon-ingest", env["FACMON_MQTT_INGEST_PASSWORD"])
    assert not got[0].is_failure, got[0]
    ingest.subscribe("facmon/v1/#", qos=1)
    time.sleep(0.3)
    simulator, _, sim_got = client(services_port, "facmon-simulator", env["FACMON_MQTT_SIMULATOR_PASSWORD"])
    assert not sim_got[0].is_failure
    simulator.publish("facmon/v1/wz-lc-lib-001/door-1/reading", b'{"ts": 1, "occupancy": 1}', qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while "facmon/v1/wz-lc-lib-001/door-1/reading" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "facmon/v1/wz-lc-lib-001/door-1/reading" in got
    anonymous, _, anon_got = client(port, None, None)
    assert anon_got[0].is_failure  # refused: not authorised
    for mqtt in (ingest, simulator, anonymous):
        mqtt.disconnect()
        mqtt.loop_stop()
