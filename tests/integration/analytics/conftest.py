"""Fixtures of the analytics tests: one place that starts and stops the servers alerts go to, so the delivery,
integrity, review and `facmon analyze` tests all receive alerts the same way (servers themselves: auditing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import pytest

from facmon.core.influx import InfluxClient
from facmon.demo.localstack import LocalInfluxDB
from tests.conftest import pinned_env
from tests.integration.analytics.auditing import SmtpServer, Webhook

S = TypeVar("S", SmtpServer, Webhook)


def _serving(server: S) -> Iterator[S]:
    """Start a server for a fixture and stop it after the test."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """facmon's clock at tests.conftest.TEST_NOW for every settings these tests load (analyze's "today" and
    settled days, the alerts' decision times), never the machine's."""
    for key, value in pinned_env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A mail server without login, collecting what it receives in ``mailbox``."""
    yield from _serving(SmtpServer())


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """An HTTP server collecting the JSON POSTs it receives."""
    yield from _serving(Webhook())


@pytest.fixture
def db(influxdb: LocalInfluxDB, influx_db_name: str) -> Iterator[InfluxClient]:
    """A client of this test's own database in the session InfluxDB, created empty."""
    client = InfluxClient(influxdb.url, influx_db_name)
    client.create_database()
    yield client
    client.close()


@pytest.fixture
def evidence(db: InfluxClient, influxdb: LocalInfluxDB) -> Iterator[InfluxClient]:
    """The evidence database that goes with ``db`` (FACMON_INFLUX_EVIDENCE_DB's default), created empty."""
    client = InfluxClient(influxdb.url, f"{db.database}_evidence")
    client.create_database()
    yield client
    client.close()
