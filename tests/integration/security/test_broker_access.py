"""The broker files `facmon broker-config` makes, used by a real Mosquitto: who may log in, write and read what.

"Not delivered" is proven with a barrier (see clients.py), never with a sleep.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import InfluxReader, now_ms
from tests.integration.security.clients import Account, login
from tests.integration.security.conftest import (
    ALPHA,
    ANALYTICS_USER,
    BETA,
    COMMUNITY,
    INGEST_USER,
    LIBRARY,
    BrokerFiles,
    ingester_process,
)

pytestmark = pytest.mark.servers


def port_of(files: BrokerFiles, name: str) -> int:
    """Services log in on their own listener, integrators on theirs."""
    return files.services_port if name in (INGEST_USER, ANALYTICS_USER) else files.port


@pytest.fixture
def accounts(secure_broker: LocalMosquitto, broker_files: BrokerFiles) -> Iterator[dict[str, Account]]:
    """A logged-in connection for each account, plus a second ingester connection to watch everything."""
    made: dict[str, Account] = {}
    try:
        for name in (INGEST_USER, ANALYTICS_USER, ALPHA, BETA):
            made[name] = Account(port_of(broker_files, name), name, broker_files.passwords[name])
            assert made[name].logged_in, (name, made[name].connack)
        made["watcher"] = Account(broker_files.services_port, INGEST_USER, broker_files.passwords[INGEST_USER])
        made["watcher"].subscribe(f"{broker_files.prefix}/#")
        yield made
    finally:
        for account in made.values():
            account.close()


def test_generated_files_hold_only_hashes_and_the_cli_prints_no_secret(broker_files: BrokerFiles) -> None:
    result = broker_files.result
    assert "2 service accounts, hashed by mosquitto_passwd" in result.stdout
    assert "2 integrators with 2 logins serving 2 facilities" in result.stdout
    files = {path.name: path for path in broker_files.out.iterdir()}
    assert set(files) == {"passwd", "acl", "dynsec.json", "mosquitto.conf"}  # no plaintext or temporary file
    everything = result.stdout + result.stderr + "".join(path.read_text() for path in files.values())
    for password in broker_files.passwords.values():
        assert password not in everything
    lines = files["passwd"].read_text().splitlines()
    assert sorted(line.split(":", 1)[0] for line in lines) == sorted([INGEST_USER, ANALYTICS_USER])
    assert all(line.split(":", 1)[1].startswith("$7$") for line in lines), lines
    clients = json.loads(files["dynsec.json"].read_text())["clients"]
    assert sorted(client["username"] for client in clients) == sorted([ALPHA, BETA])
    assert all(client["iterations"] >= 101 and len(client["salt"]) == 16 for client in clients)
    modes = {name: stat.S_IMODE(path.stat().st_mode) for name, path in files.items()}
    assert modes == {"passwd": 0o600, "dynsec.json": 0o600, "acl": 0o640, "mosquitto.conf": 0o640}
    conf = files["mosquitto.conf"].read_text()
    assert "allow_anonymous false" in conf
    assert f"password_file {broker_files.out}/passwd" in conf
    assert "max_inflight_messages 10000" in conf  # the shipped facmon.conf settings are in it


def test_anonymous_and_wrong_passwords_are_refused(secure_broker: LocalMosquitto, broker_files: BrokerFiles) -> None:
    for port in (broker_files.port, broker_files.services_port, secure_broker.port):
        assert login(port, None, None).is_failure
        assert login(port, "nobody", "whatever-password").is_failure
    assert login(broker_files.port, ALPHA, broker_files.passwords[BETA]).is_failure
    assert not login(broker_files.port, ALPHA, broker_files.passwords[ALPHA]).is_failure
    # each kind of account logs in on its own listener only
    assert login(broker_files.services_port, ALPHA, broker_files.passwords[ALPHA]).is_failure
    assert login(broker_files.port, INGEST_USER, broker_files.passwords[INGEST_USER]).is_failure


def test_an_integrator_writes_only_below_its_own_facilities_and_never_a_notice(
    accounts: dict[str, Account], broker_files: BrokerFiles
) -> None:
    p, alpha = broker_files.prefix, accounts[ALPHA]
    forbidden = [
        f"{p}/{COMMUNITY}/door-1/reading",  # beta's facility
        f"{p}/{COMMUNITY}/door-1/status",
        f"{p}/{LIBRARY}/door-1/rejected",  # forging the ingester's notices, even for its own facility
        f"{p}/_rejected",
        f"{p}/{LIBRARY}/_rejected",
        f"{p}/alerts/{LIBRARY}",
        f"{p}/{LIBRARY.upper()}/door-1/rejected",
    ]
    for topic in forbidden:
        alpha.publish(topic)
    # a topic mistake below its own facility reaches the ingester, which answers it with a notice (issue 17)
    alpha.publish(f"{p}/{LIBRARY}/door-1/other")
    alpha.publish(f"{p}/{LIBRARY}/door-1/status", b"online")
    alpha.publish(f"{p}/{LIBRARY}/door-1/reading")  # the barrier
    assert accounts["watcher"].received_until(f"{p}/{LIBRARY}/door-1/reading") == [
        f"{p}/{LIBRARY}/door-1/other",
        f"{p}/{LIBRARY}/door-1/status",
        f"{p}/{LIBRARY}/door-1/reading",
    ]


def test_mqtt5_integrators_are_told_a_publish_was_not_authorised(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles
) -> None:
    alpha = Account(broker_files.port, ALPHA, broker_files.passwords[ALPHA], protocol=mqtt.MQTTv5)
    acks: dict[int, ReasonCode] = {}
    alpha.client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason)
    try:
        own = alpha.client.publish(f"{broker_files.prefix}/{LIBRARY}/s/reading", b"x", qos=1)
        other = alpha.client.publish(f"{broker_files.prefix}/{COMMUNITY}/s/reading", b"x", qos=1)
        own.wait_for_publish(10)
        other.wait_for_publish(10)
    finally:
        alpha.close()
    assert not acks[own.mid].is_failure, acks[own.mid]  # "Success" or "No matching subscribers"
    assert str(acks[other.mid]) == "Not authorized"


def test_an_integrator_reads_only_its_own_refusal_notices(
    accounts: dict[str, Account], broker_files: BrokerFiles
) -> None:
    p = broker_files.prefix
    for name in (ALPHA, BETA):
        accounts[name].subscribe(f"{p}/#", f"{p}/+/+/rejected", f"{p}/{COMMUNITY}/+/rejected")
    ingester = accounts[INGEST_USER]
    accounts[BETA].publish(f"{p}/{COMMUNITY}/hall/reading")  # another integrator's reading
    ingester.publish(f"{p}/{COMMUNITY}/hall/rejected", b"{}")
    ingester.publish(f"{p}/_rejected", b"{}")
    ingester.publish(f"{p}/alerts/{COMMUNITY}", b"{}")
    ingester.publish(f"{p}/{LIBRARY}/door-1/rejected", b"{}")  # the barrier, alpha's own notice
    assert accounts[ALPHA].received_until(f"{p}/{LIBRARY}/door-1/rejected") == [f"{p}/{LIBRARY}/door-1/rejected"]
    # beta, whose facilities come from a region prefix, gets its notice (once per matching subscription).
    ingester.publish(f"{p}/{COMMUNITY}/hall/rejected", b"{}")
    got = accounts[BETA].received_until(f"{p}/{COMMUNITY}/hall/rejected")
    assert set(got) == {f"{p}/{COMMUNITY}/hall/rejected"}


def test_the_ingester_reads_everything_and_analytics_writes_only_alerts(
    accounts: dict[str, Account], broker_files: BrokerFiles
) -> None:
    p, watcher = broker_files.prefix, accounts["watcher"]
    accounts[BETA].publish(f"{p}/{COMMUNITY}/hall/reading")
    accounts[ALPHA].publish(f"{p}/{LIBRARY}/door-1/status", b"offline")
    accounts[INGEST_USER].publish(f"{p}/_rejected", b"{}")
    accounts[INGEST_USER].publish(f"{p}/alerts/{LIBRARY}", b"{}")
    analytics = accounts[ANALYTICS_USER]
    analytics.publish(f"{p}/{LIBRARY}/door-1/reading")  # analytics may not pose as a sensor
    analytics.publish(f"{p}/{LIBRARY}/door-1/rejected", b"{}")
    analytics.publish(f"{p}/alerts/{COMMUNITY}", b"{}")  # the barrier
    assert watcher.received_until(f"{p}/alerts/{COMMUNITY}") == [
        f"{p}/{COMMUNITY}/hall/reading",
        f"{p}/{LIBRARY}/door-1/status",
        f"{p}/_rejected",
        f"{p}/alerts/{LIBRARY}",
        f"{p}/alerts/{COMMUNITY}",
    ]


def test_the_ingester_with_its_account_stores_the_integrators_reading_and_never_sees_a_forbidden_one(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, influxdb: LocalInfluxDB, influx_db_name: str,
    tmp_path: Path,
) -> None:
    password = broker_files.passwords[INGEST_USER]
    ingester = ingester_process(tmp_path / "ingester", broker_files, influxdb.url, influx_db_name)
    ingester.start()
    alpha = Account(broker_files.port, ALPHA, broker_files.passwords[ALPHA])
    ts = now_ms() - 1000
    try:
        alpha.publish(f"{broker_files.prefix}/{COMMUNITY}/door-1/reading", json.dumps({"ts": ts, "occupancy": 9}))
        alpha.publish(f"{broker_files.prefix}/{LIBRARY}/door-1/reading", json.dumps({"ts": ts, "occupancy": 4}))
        reader = InfluxReader(influxdb.url, influx_db_name)
        [point] = reader.wait_points("reading", 1)
        assert (point["facility"], point["occupancy"]) == (LIBRARY, 4)
        ingester.wait_for_log(r"counters received=1 accepted=1 written=1 .*refused=\[none\]")
    finally:
        alpha.close()
        code, log = ingester.stop()
    assert code == 0, log
    assert reader.count("refusal") == 0
    assert password not in ingester.log
    assert f"connected to mqtt://{INGEST_USER}:***@" in log
