"""InfluxDB with authentication on: the ingester and analytics each with their own user and only the documented
grants (facmon.access.rules.influx_grants): the ingester WRITE on the readings only, analytics READ on the readings and
ALL on the evidence database, neither an admin. tests/integration/security/test_evidence.py attacks the split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from facmon.core.influx import InfluxClient, InfluxPermissionDenied
from facmon.demo.localstack import LocalMosquitto
from ingest.service import IngestError, prepare_database
from tests.integration.ingester import IngesterProcess, now_ms, publisher, unique
from tests.integration.security.conftest import ANALYTICS_USER, INGEST_USER, LIBRARY, SecureInflux

pytestmark = pytest.mark.servers


def ingester_for(tmp_path: Path, mosquitto: LocalMosquitto, influx: SecureInflux, user: str, password: str,
                 database: str | None = None) -> IngesterProcess:
    return IngesterProcess(
        tmp_path / "ingester",
        mqtt_url=mosquitto.url,
        influx_url=influx.server.url,
        influx_db=database or influx.database,
        topic_prefix=unique("iu") + "/v1",
        env={"FACMON_INFLUX_USER": user, "FACMON_INFLUX_PASSWORD": password},
    )


def test_the_ingester_works_with_its_own_write_only_user(
    mosquitto: LocalMosquitto, secure_influx: SecureInflux, tmp_path: Path
) -> None:
    password = secure_influx.passwords[INGEST_USER]
    ingester = ingester_for(tmp_path, mosquitto, secure_influx, INGEST_USER, password)
    ingester.start()
    ts = now_ms() - 1000
    sensor = unique("door-")
    try:
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish(f"{ingester.topic_prefix}/{LIBRARY}/{sensor}/reading", json.dumps({"ts": ts, "occupancy": 5}))
        ingester.wait_for_log(r"counters received=1 accepted=1 written=1 ")
    finally:
        code, log = ingester.stop()
    assert code == 0, log
    rows = admin_query(secure_influx, f"SELECT occupancy FROM reading WHERE sensor = '{sensor}'")
    assert rows[0]["series"][0]["values"] == [[ts, 5]]
    assert " WARNING " not in log, log  # no complaint about rights it does not need
    assert " ERROR " not in log, log
    assert password not in ingester.log


def admin_query(influx: SecureInflux, q: str, database: str | None = None) -> list[dict[str, Any]]:
    """Read back as the admin, through the same client code (epoch in ms)."""
    server = influx.server
    assert server.admin_user is not None
    assert server.admin_password is not None
    client = InfluxClient(server.url, database or influx.database, (server.admin_user, server.admin_password))
    try:
        return client.query(q, epoch="ms")
    finally:
        client.close()


def test_each_user_has_exactly_the_rights_it_needs(secure_influx: SecureInflux) -> None:
    url, db, evidence = secure_influx.server.url, secure_influx.database, f"{secure_influx.database}_evidence"
    ingest = InfluxClient(url, db, (INGEST_USER, secure_influx.passwords[INGEST_USER]))
    analytics = InfluxClient(url, db, (ANALYTICS_USER, secure_influx.passwords[ANALYTICS_USER]))
    analytics_evidence = InfluxClient(url, evidence, (ANALYTICS_USER, secure_influx.passwords[ANALYTICS_USER]))
    try:
        ingest.write(b"ingest_stats,instance=t received=1i")
        with pytest.raises(InfluxPermissionDenied, match="not authorized"):
            ingest.query("SELECT * FROM ingest_stats")
        assert analytics.query("SELECT count(received) FROM ingest_stats")[0]["series"][0]["values"][0][1] >= 1
        with pytest.raises(InfluxPermissionDenied, match="not authorized to write"):
            analytics.write(b"reading,facility=wz-lc-lib-001,sensor=x occupancy=1i")
        analytics_evidence.write(b"facility_status,facility=wz-lc-lib-001 status=\"IDLE\"")
        assert analytics_evidence.query("SELECT count(status) FROM facility_status")[0]["series"]
        for client in (ingest, analytics):
            with pytest.raises(InfluxPermissionDenied, match="admin"):
                client.create_database()
            with pytest.raises(InfluxPermissionDenied, match="admin"):
                client.query("CREATE USER \"intruder\" WITH PASSWORD 'intruder-password'")
    finally:
        ingest.close()
        analytics.close()
        analytics_evidence.close()


def test_wrong_credentials_stop_the_ingester_with_one_clear_line_and_exit_code_1(
    mosquitto: LocalMosquitto, secure_influx: SecureInflux, tmp_path: Path
) -> None:
    password = "not-the-password-" + unique("")
    ingester = ingester_for(tmp_path, mosquitto, secure_influx, INGEST_USER, password)
    ingester.start(wait_connected=False)
    code = ingester.wait_exit(60)
    assert code == 1, ingester.log
    [line] = ingester.log.splitlines()
    assert line.startswith(f"facmon: InfluxDB at {secure_influx.server.url}: InfluxDB refused the credentials (401)")
    assert password not in ingester.log


def test_a_user_without_write_on_the_database_cannot_start_an_ingester(secure_influx: SecureInflux) -> None:
    secure_influx.server.query('CREATE DATABASE "other_db"')
    client = InfluxClient(secure_influx.server.url, "other_db",
                          (ANALYTICS_USER, secure_influx.passwords[ANALYTICS_USER]))
    try:
        with pytest.raises(IngestError, match=r"may not write to database other_db: .*denied the request \(403\)"):
            prepare_database(client)
    finally:
        client.close()


def test_a_missing_database_the_user_may_not_create_is_reported_and_waited_for(
    mosquitto: LocalMosquitto, secure_influx: SecureInflux, tmp_path: Path
) -> None:
    server, db = secure_influx.server, "late_" + unique("")
    ingester = ingester_for(tmp_path, mosquitto, secure_influx, INGEST_USER, secure_influx.passwords[INGEST_USER],
                            database=db)
    ingester.start()
    try:
        ingester.wait_for_log(rf"ERROR ingest\.service: InfluxDB database {db} does not exist and this user may not "
                              r"create it .*an admin must run CREATE DATABASE")
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish(f"{ingester.topic_prefix}/{LIBRARY}/door-1/reading",
                        json.dumps({"ts": now_ms() - 1000, "occupancy": 2}))
        ingester.wait_for_log("cannot create the InfluxDB database")
        server.query(f'CREATE DATABASE "{db}"')
        server.query(f'GRANT WRITE ON "{db}" TO "{INGEST_USER}"')
        ingester.wait_for_log(r"counters received=1 accepted=1 written=1 ", timeout=20)
    finally:
        code, log = ingester.stop()
    assert code == 0, log
    [result] = admin_query(secure_influx, "SELECT count(occupancy) FROM reading", db)
    assert result["series"][0]["values"][0][1] == 1
