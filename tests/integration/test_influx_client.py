"""InfluxClient against a real InfluxDB 1.x: reads, writes, errors sorted by kind, auth, reconnects.

Also: string literals built with influxql.literal() cannot inject InfluxQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from facmon.core.influx import (
    InfluxAuthError,
    InfluxClient,
    InfluxDatabaseMissing,
    InfluxRejected,
    InfluxUnavailable,
)
from facmon.core.influxql import ident, literal
from facmon.demo.localstack import LocalInfluxDB, free_port

pytestmark = pytest.mark.servers

T = 1_764_000_000_000_000_000


@pytest.fixture
def client(influxdb: LocalInfluxDB, influx_db_name: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influxdb.url, influx_db_name, timeout=10)
    client.create_database()
    yield client
    client.query(f"DROP DATABASE {ident(influx_db_name)}", database="")
    client.close()


def series(results: list[dict]) -> list[dict]:
    return [s for result in results for s in result.get("series", [])]


def test_ping_returns_the_version(influxdb):
    client = InfluxClient(influxdb.url, "unused")
    try:
        version = client.ping()
    finally:
        client.close()
    assert re.match(r"^1\.\d+\.\d+", version), version


def test_create_database_and_exists(influxdb, influx_db_name):
    client = InfluxClient(influxdb.url, influx_db_name)
    try:
        assert client.database_exists() is False
        client.create_database()
        assert client.database_exists() is True
        client.create_database()  # idempotent
        assert client.database_exists() is True
        names = [row[0] for s in series(client.query("SHOW DATABASES", database="")) for row in s["values"]]
        assert names.count(influx_db_name) == 1
    finally:
        client.query(f"DROP DATABASE {ident(influx_db_name)}", database="")
        client.close()


def test_write_and_query(client):
    client.write(f'm,site=a v=1i,f=0.5 {T}\nm,site=b v=2i,s="x y" {T + 1}\n'.encode())
    results = client.query("SELECT * FROM m ORDER BY time", epoch="ns")
    assert series(results) == [
        {
            "name": "m",
            "columns": ["time", "f", "s", "site", "v"],
            "values": [[T, 0.5, None, "a", 1], [T + 1, None, "x y", "b", 2]],
        }
    ]


def test_write_with_precision(client):
    client.write(b"m v=1i 1764000000", precision="s")
    assert series(client.query("SELECT v FROM m", epoch="s"))[0]["values"] == [[1_764_000_000, 1]]


def test_query_with_several_statements(client):
    client.write(f"m v=1i {T}".encode())
    results = client.query("SELECT count(v) FROM m; SHOW MEASUREMENTS")
    assert [r["statement_id"] for r in results] == [0, 1]
    assert results[0]["series"][0]["values"][0][1] == 1
    assert results[1]["series"][0]["values"] == [["m"]]


def test_query_csv_has_a_header(client):
    client.write(f"m,site=a v=1i {T}\nm,site=b v=2i {T + 5}".encode())
    text = client.query_csv("SELECT v, site FROM m ORDER BY time")
    assert text.splitlines() == ["name,tags,time,v,site", f"m,,{T},1,a", f"m,,{T + 5},2,b"]


def test_query_csv_of_no_rows_is_empty(client):
    assert client.query_csv("SELECT * FROM nothing_here") == ""


def test_write_to_missing_database(influxdb, influx_db_name):
    client = InfluxClient(influxdb.url, influx_db_name)
    try:
        with pytest.raises(InfluxDatabaseMissing, match=influx_db_name):
            client.write(f"m v=1i {T}".encode())
    finally:
        client.close()


def test_query_of_missing_database_is_rejected(influxdb, influx_db_name):
    client = InfluxClient(influxdb.url, influx_db_name)
    try:
        with pytest.raises(InfluxRejected, match="database not found"):
            client.query("SELECT * FROM m")
    finally:
        client.close()


@pytest.mark.parametrize("query", ["SELECT * FROM m", "SELECT * FROM m WHERE time > 'not a time'"])
def test_query_csv_statement_error_raises(influxdb, influx_db_name, query):
    client = InfluxClient(influxdb.url, influx_db_name)
    try:
        with pytest.raises((InfluxRejected, InfluxDatabaseMissing)):
            client.query_csv(query)
    finally:
        client.close()


@pytest.mark.parametrize("query", ["SELEC * FROM m", "SELECT * FROM", "SELECT v FROM m WHERE site = 'open"])
def test_syntax_error_is_rejected(client, query):
    with pytest.raises(InfluxRejected, match="400"):
        client.query(query)
    with pytest.raises(InfluxRejected, match="400"):
        client.query_csv(query)


def test_statement_error_is_rejected(client):
    with pytest.raises(InfluxRejected, match="query failed"):
        client.query("SELECT * FROM m WHERE time > 'not a time'")


def test_field_type_conflict_is_rejected(client):
    client.write(f"m v=1i {T}".encode())
    with pytest.raises(InfluxRejected, match="field type conflict"):
        client.write(f'm v="text" {T + 1}'.encode())


def test_bad_line_protocol_is_rejected(client):
    with pytest.raises(InfluxRejected, match="400"):
        client.write(b"m v= 1")


def test_unreachable_port():
    client = InfluxClient(f"http://127.0.0.1:{free_port()}", "db", timeout=2)
    try:
        with pytest.raises(InfluxUnavailable, match="unreachable"):
            client.ping()
        with pytest.raises(InfluxUnavailable):
            client.write(b"m v=1i")
        with pytest.raises(InfluxUnavailable):
            client.query("SHOW DATABASES")
    finally:
        client.close()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8086", "127.0.0.1:8086", "http://"])
def test_bad_url(url):
    with pytest.raises(ValueError, match="http"):
        InfluxClient(url, "db")


def test_repr_has_no_credentials():
    client = InfluxClient("http://127.0.0.1:8086", "db", auth=("admin", "hunter2"))
    assert "hunter2" not in repr(client)
    in_url = InfluxClient("http://admin:hunter2@127.0.0.1:8086/", "db")
    assert "hunter2" not in repr(in_url)
    assert in_url.url == "http://127.0.0.1:8086"


# -- auth ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_influxdb(tmp_path_factory) -> Iterator[LocalInfluxDB]:
    server = LocalInfluxDB(tmp_path_factory.mktemp("influx-auth"), auth=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_wrong_credentials(auth_influxdb):
    for auth in [("admin", "wrong"), ("nobody", "x"), None]:
        client = InfluxClient(auth_influxdb.url, "authdb", auth=auth)
        try:
            with pytest.raises(InfluxAuthError):
                client.query("SHOW DATABASES", database="")
            with pytest.raises(InfluxAuthError):
                client.write(f"m v=1i {T}".encode())
        finally:
            client.close()


def test_right_credentials(auth_influxdb):
    assert auth_influxdb.admin_user is not None
    assert auth_influxdb.admin_password is not None
    client = InfluxClient(auth_influxdb.url, "authdb", auth=(auth_influxdb.admin_user, auth_influxdb.admin_password))
    try:
        assert client.ping().startswith("1.")
        client.create_database()
        assert client.database_exists()
        client.write(f"m v=7i {T}".encode())
        assert series(client.query("SELECT v FROM m", epoch="ns"))[0]["values"] == [[T, 7]]
    finally:
        client.close()


# -- reconnects -------------------------------------------------------------------------------------------------------


def test_keep_alive_reconnects_after_restart(fresh_influxdb):
    client = InfluxClient(fresh_influxdb.url, "restartdb", timeout=10)
    try:
        client.create_database()
        client.write(f"m v=1i {T}".encode())
        kept_alive = client._local.conn
        assert kept_alive is not None
        fresh_influxdb.restart()
        client.write(f"m v=2i {T + 1}".encode())  # the kept-alive connection is dead: reconnect once
        assert client._local.conn is not kept_alive
        fresh_influxdb.restart()
        assert series(client.query("SELECT v FROM m", epoch="ns"))[0]["values"] == [[T, 1], [T + 1, 2]]
        fresh_influxdb.restart()
        assert client.ping().startswith("1.")
    finally:
        client.close()


def test_server_down_then_back(fresh_influxdb):
    client = InfluxClient(fresh_influxdb.url, "downdb", timeout=5)
    try:
        client.create_database()
        fresh_influxdb.stop()
        with pytest.raises(InfluxUnavailable):
            client.write(f"m v=1i {T}".encode())
        fresh_influxdb.start()
        client.write(f"m v=1i {T}".encode())
        assert client.database_exists()
    finally:
        client.close()


# -- injection ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["x' OR '1'='1", "x' OR site =~ /.*/ OR site = 'x", "\\' OR 1=1 --"])
def test_literal_cannot_widen_a_query(client, hostile):
    client.write(f"m,site=a v=1i {T}\nm,site=b v=2i {T + 1}".encode())
    results = client.query(f"SELECT v FROM m WHERE site = {literal(hostile)}")
    assert series(results) == []


def test_literal_matches_the_exact_hostile_value(client):
    value = "x' OR '1'='1"
    tag = value.replace(" ", "\\ ").replace("=", "\\=")
    client.write(f"m,site={tag} v=3i {T}\nm,site=x v=4i {T + 1}".encode())
    rows = series(client.query(f"SELECT v, site FROM m WHERE site = {literal(value)}", epoch="ns"))
    assert rows[0]["values"] == [[T, 3, value]]


def test_literal_cannot_drop_a_database(influxdb, client):
    victim = "victim_" + uuid.uuid4().hex[:8]
    guard = InfluxClient(influxdb.url, victim)
    try:
        guard.create_database()
        client.write(f"m,site=a v=1i {T}".encode())
        hostiles = [f"a'; DROP DATABASE {victim}; '", f"a'; DROP DATABASE {client.database}; SELECT * FROM m WHERE '"]
        for hostile in hostiles:
            results = client.query(f"SELECT v FROM m WHERE site = {literal(hostile)}")
            assert len(results) == 1
            assert series(results) == []
        assert guard.database_exists()
        assert client.database_exists()
        assert series(client.query("SELECT count(v) FROM m"))[0]["values"][0][1] == 1
    finally:
        guard.query(f"DROP DATABASE {ident(victim)}", database="")
        guard.close()


def test_ident_cannot_escape(client):
    client.write(f"m v=1i {T}".encode())
    hostile = 'm"; DROP DATABASE "' + client.database
    assert series(client.query(f"SELECT v FROM {ident(hostile)}")) == []  # just a measurement that is not there
    assert client.database_exists()
    assert series(client.query("SELECT count(v) FROM m"))[0]["values"][0][1] == 1
