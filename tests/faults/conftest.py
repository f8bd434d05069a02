"""Fixtures of the fault-injection suite: ingesters of each test's own on the session (or a fresh) broker/InfluxDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facmon.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import REGISTRY_YAML, InfluxReader, IngesterProcess, unique

IngesterFactory = Callable[..., IngesterProcess]


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: the session broker carries other tests' messages too."""
    return unique("f") + "/v1"


@pytest.fixture
def reader(influxdb: LocalInfluxDB, influx_db_name: str) -> InfluxReader:
    return InfluxReader(influxdb.url, influx_db_name)


@pytest.fixture
def make_ingester(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, prefix: str, tmp_path: Path
) -> Iterator[IngesterFactory]:
    """Build (not start) ingesters on this test's prefix and database; any left running are killed at the end."""
    made: list[IngesterProcess] = []

    def make(
        env: dict[str, str] | None = None,
        *,
        broker: LocalMosquitto | None = None,
        influx: LocalInfluxDB | None = None,
        client_id: str | None = None,
        registry_text: str = REGISTRY_YAML,
    ) -> IngesterProcess:
        ingester = IngesterProcess(
            tmp_path / f"ingester{len(made)}",
            mqtt_url=(broker or mosquitto).url,
            influx_url=(influx or influxdb).url,
            influx_db=influx_db_name,
            topic_prefix=prefix,
            client_id=client_id,
            registry_text=registry_text,
            env=env,
        )
        made.append(ingester)
        return ingester

    yield make
    for ingester in made:
        ingester.kill()
