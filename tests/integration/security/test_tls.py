"""The ingester over mqtts:// against Mosquitto's TLS listener (the one `facmon broker-config` declared).

The CA and the server certificate are made by the test (certs.py); the certificate is for 127.0.0.1 only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import InfluxReader, IngesterProcess, now_ms, unique
from tests.integration.security.clients import Account
from tests.integration.security.conftest import ALPHA, INGEST_USER, LIBRARY, REGISTRY_YAML, BrokerFiles, Pki

pytestmark = pytest.mark.servers


def tls_ingester(
    workdir: Path, broker_files: BrokerFiles, influx: LocalInfluxDB, db: str, ca_file: Path
) -> IngesterProcess:
    password = broker_files.passwords[INGEST_USER]
    return IngesterProcess(
        workdir,
        mqtt_url=f"mqtts://{INGEST_USER}:{password}@127.0.0.1:{broker_files.tls_services_port}",
        influx_url=influx.url,
        influx_db=db,
        topic_prefix=broker_files.prefix,
        client_id=unique("ingest-tls-"),
        registry_text=REGISTRY_YAML,
        env={"FACMON_MQTT_CA_FILE": str(ca_file)},
    )


def test_the_ingester_connects_over_tls_and_stores_a_reading_sent_over_tls(
    tls_broker: LocalMosquitto, broker_files: BrokerFiles, pki: Pki, influxdb: LocalInfluxDB,
    influx_db_name: str, tmp_path: Path,
) -> None:
    ingester = tls_ingester(tmp_path, broker_files, influxdb, influx_db_name, pki.ca.path)
    ingester.start()
    sensor = Account(broker_files.tls_port, ALPHA, broker_files.passwords[ALPHA], ca_file=pki.ca.path)
    ts = now_ms() - 1000
    try:
        assert sensor.logged_in
        sensor.publish(f"{broker_files.prefix}/{LIBRARY}/door-1/reading", json.dumps({"ts": ts, "occupancy": 7}))
        [point] = InfluxReader(influxdb.url, influx_db_name).wait_points("reading", 1)
    finally:
        sensor.close()
        code, log = ingester.stop()
    assert (point["facility"], point["occupancy"], point["time"]) == (LIBRARY, 7, ts * 1_000_000)
    assert code == 0, log
    assert f"connected to mqtts://{INGEST_USER}:***@127.0.0.1:{broker_files.tls_services_port}" in log
    assert broker_files.passwords[INGEST_USER] not in ingester.log


def test_a_wrong_ca_is_named_in_the_log_and_the_ingester_keeps_retrying_without_crashing(
    tls_broker: LocalMosquitto, broker_files: BrokerFiles, pki: Pki, influxdb: LocalInfluxDB,
    influx_db_name: str, tmp_path: Path,
) -> None:
    ingester = tls_ingester(tmp_path, broker_files, influxdb, influx_db_name, pki.other_ca.path)
    ingester.start(wait_connected=False)
    try:
        ingester.wait_for_log(
            rf"ERROR ingest\.mqtt: cannot connect to the broker at 127\.0\.0\.1:{broker_files.tls_services_port}: "
            r"the broker's TLS certificate is not trusted \(.*\); check FACMON_MQTT_CA_FILE"
        )
        assert ingester.running
    finally:
        code, log = ingester.stop()
    assert code == 0, log
    assert "connected to mqtts" not in log
    assert "Traceback" not in log
    assert broker_files.passwords[INGEST_USER] not in ingester.log


def test_an_unreadable_ca_file_stops_the_ingester_with_one_line(
    broker_files: BrokerFiles, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    ingester = tls_ingester(tmp_path, broker_files, influxdb, influx_db_name, missing)
    ingester.start(wait_connected=False)
    code = ingester.wait_exit(60)
    assert code == 1, ingester.log
    assert ingester.log.splitlines() == [
        f"facmon: cannot load CA certificates from FACMON_MQTT_CA_FILE {missing}: No such file or directory"
    ]
