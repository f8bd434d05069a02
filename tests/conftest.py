"""Shared fixtures: real Mosquitto and InfluxDB servers (facmon.demo.localstack), never mocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from facmon.core import i18n
from facmon.core.clock import clock_at, parse_instant
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, ServerUnavailable
from tests.logstate import kept_logging

S = TypeVar("S", LocalMosquitto, LocalInfluxDB)

#: The instant the time-dependent tests pin facmon's clock at (FACMON_NOW / --now of the processes they run):
#: FACMON_TEST_NOW when set (scripts/pinned-clocks.sh runs those tests at several), else half past midnight in
#: Shanghai, the hour at which the simulator's backfill once failed. Never the machine's clock or zone.
TEST_NOW = parse_instant(os.environ.get("FACMON_TEST_NOW") or "2026-12-01T16:30:00Z")


#: The tests' own clock, pinned at TEST_NOW and running on from its first reading: what they stamp readings with and
#: start the processes under test at. In this process it is the very clock of Settings(now=TEST_NOW) (clock_at).
TEST_CLOCK = clock_at(TEST_NOW)


def pinned_env() -> dict[str, str]:
    """The environment that pins a facmon process's clock at TEST_NOW."""
    return {"FACMON_NOW": TEST_NOW.isoformat()}


@pytest.fixture(autouse=True)
def _kept_logging() -> Iterator[None]:
    """A command run in-process configures logging (facmon.core.logs); the next test starts from what was before."""
    with kept_logging():
        yield


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Each test starts in English, whatever the machine's locale or a command run in-process before it set
    (facmon.core.i18n.set_language); a test in another language says so with i18n.using."""
    i18n.set_language(i18n.ENGLISH)
    yield
    i18n.set_language(i18n.ENGLISH)


def server_missing(reason: object) -> NoReturn:
    """A missing server or client binary: a failure under CI=true (set-up is broken), else a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a server binary is missing, so .ci/run's set-up is broken: {reason}")
    pytest.skip(str(reason))


def _running(server_factory: type[S], workdir: Path) -> Iterator[S]:
    """Start a server for a fixture and stop it afterwards; a missing binary fails under CI, else skips."""
    try:
        server = server_factory(workdir)
        server.start()
    except ServerUnavailable as exc:
        server_missing(exc)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMosquitto]:
    """One broker for the whole run; tests that stop or kill it must use fresh_mosquitto instead."""
    yield from _running(LocalMosquitto, tmp_path_factory.mktemp("mosquitto"))


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfluxDB]:
    """One InfluxDB for the whole run; isolate tests with influx_db_name, use fresh_influxdb for faults."""
    yield from _running(LocalInfluxDB, tmp_path_factory.mktemp("influxdb"))


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """A broker of this test's own, free to be stopped, killed or restarted."""
    yield from _running(LocalMosquitto, tmp_path / "mosquitto")


@pytest.fixture
def fresh_influxdb(tmp_path: Path) -> Iterator[LocalInfluxDB]:
    """An InfluxDB of this test's own, free to be stopped, killed or restarted."""
    yield from _running(LocalInfluxDB, tmp_path / "influxdb")


@pytest.fixture
def influx_db_name() -> str:
    """A database name of this test's own: tests sharing the session InfluxDB never see each other's data."""
    return "t_" + uuid.uuid4().hex[:12]
