"""Issue 17: every refusal that can be attributed reaches its sender, with the files `facmon broker-config` makes.

Two integrators publish the mistakes integrators make — a topic in capitals, `…/readings`, a sensor id the
contract refuses, a sensor level missing, a bad reading — through the generated dynamic-security rules, to a real
ingester logged in with its generated account. Each integrator, subscribed to everything it may read, gets every
one of its own notices and none of the other's: beta's notices were published by the ingester before alpha made
its first mistake, and the broker keeps one publisher's messages in order, so any of them alpha could read would
come before its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from facmon.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import IngesterProcess, now_ms, unique
from tests.integration.security.clients import TIMEOUT, Account
from tests.integration.security.conftest import ALPHA, BETA, COMMUNITY, INGEST_USER, LIBRARY, REGISTRY_YAML, BrokerFiles

pytestmark = pytest.mark.servers


@pytest.fixture
def ingester(
    secure_broker: LocalMosquitto, broker_files: BrokerFiles, influxdb: LocalInfluxDB, influx_db_name: str,
    tmp_path: Path,
) -> Iterator[IngesterProcess]:
    process = IngesterProcess(
        tmp_path / "ingester",
        mqtt_url=f"mqtt://{INGEST_USER}:{broker_files.passwords[INGEST_USER]}@127.0.0.1:{broker_files.services_port}",
        influx_url=influxdb.url,
        influx_db=influx_db_name,
        topic_prefix=broker_files.prefix,
        client_id=unique("ingest-notices-"),
        registry_text=REGISTRY_YAML,
    )
    process.start()
    try:
        yield process
    finally:
        code, log = process.stop()
        assert code == 0, log


def mistakes(prefix: str, facility: str) -> list[tuple[str, str, str]]:
    """(topic, payload, where its notice must arrive) for the usual mistakes under one facility."""
    ok = json.dumps({"ts": now_ms() - 1000, "occupancy": 1})
    return [
        (f"{prefix}/{facility.upper()}/door-1/reading", ok, f"{prefix}/{facility}/door-1/rejected"),
        (f"{prefix}/{facility}/door-1/readings", ok, f"{prefix}/{facility}/door-1/rejected"),
        (f"{prefix}/{facility}/Door-1/reading", ok, f"{prefix}/{facility}/_rejected"),
        (f"{prefix}/{facility}/reading", ok, f"{prefix}/{facility}/_rejected"),
        (f"{prefix}/{facility}/door-1/reading", json.dumps({"ts": 1, "occupancy": -3}),
         f"{prefix}/{facility}/door-1/rejected"),
    ]


def take(account: Account, count: int) -> list[str]:
    """The topics of the next `count` messages the account receives."""
    return [account.messages.get(timeout=TIMEOUT)[0] for _ in range(count)]


def test_each_integrator_receives_its_own_notices_and_none_of_the_others(
    ingester: IngesterProcess, broker_files: BrokerFiles
) -> None:
    p = broker_files.prefix
    alpha = Account(broker_files.port, ALPHA, broker_files.passwords[ALPHA])
    beta = Account(broker_files.port, BETA, broker_files.passwords[BETA])
    try:
        for account in (alpha, beta):
            account.subscribe(f"{p}/#")
        beta_cases = mistakes(p, COMMUNITY)
        for topic, payload, _ in beta_cases:
            beta.publish(topic, payload)
        assert take(beta, len(beta_cases)) == [where for _, _, where in beta_cases]
        alpha_cases = mistakes(p, LIBRARY)
        for topic, payload, _ in alpha_cases:
            alpha.publish(topic, payload)
        # its own, in order; any of beta's would have come first
        assert take(alpha, len(alpha_cases)) == [where for _, _, where in alpha_cases]
        ingester.wait_for_log(r"counters .*refused=\[bad_topic=8 out_of_range=2\].* unattributed=0 ")
    finally:
        alpha.close()
        beta.close()
