"""One secured stack for the access tests: broker files made by the real `facmon broker-config`, Mosquittos that
use them (one with plain listeners, one with TLS listeners; each has the services' and the integrators' listener),
and an InfluxDB with authentication on and a user per service made with the documented grants."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from facmon.access.rules import influx_grants
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, ServerUnavailable, free_port
from tests.conftest import server_missing
from tests.integration.ingester import COMMUNITY, LIBRARY, REGISTRY_YAML, IngesterProcess, unique
from tests.integration.security.certs import Authority, make_ca, make_server_cert

REPO = Path(__file__).resolve().parents[3]
INGEST_USER = "ingest-east"  # not the default: the ingester's account name is configurable
ANALYTICS_USER = "facmon-analytics"
ALPHA, BETA = "alpha-iot", "beta-sensing"  # alpha serves LIBRARY by id; beta COMMUNITY through its region


@dataclass(frozen=True)
class Pki:
    ca: Authority
    other_ca: Authority
    cert: Path
    key: Path


@dataclass(frozen=True)
class BrokerFiles:
    out: Path  # the plain listeners' files
    prefix: str
    registry: Path
    passwords: dict[str, str]
    port: int  # integrators, plain
    services_port: int  # ingester and analytics, plain
    tls_out: Path
    tls_port: int
    tls_services_port: int
    result: subprocess.CompletedProcess[str]
    integrators: Path
    env: dict[str, str]


def run_facmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
    return subprocess.run(
        [sys.executable, "-m", "facmon", *args],
        env={**base, **(env or {})}, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "facmon-test-ca")
    cert, key = make_server_cert(directory, ca)
    return Pki(ca, make_ca(directory, "some-other-ca"), cert, key)


@pytest.fixture(scope="session")
def broker_files(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> BrokerFiles:
    """Run `facmon broker-config` once, as an operator would; secrets come from env vars and a 0600 file."""
    work = tmp_path_factory.mktemp("broker-config")
    passwords = {name: secrets.token_urlsafe(18) for name in (INGEST_USER, ANALYTICS_USER, ALPHA, BETA)}
    beta_secret = work / "beta.pw"
    beta_secret.write_text(passwords[BETA] + "\n")
    beta_secret.chmod(0o600)
    registry = work / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    (work / "integrators.yaml").write_text(
        f"ingester: {{username: {INGEST_USER}, password_env: T_PW_INGEST}}\n"
        "analytics: {password_env: T_PW_ANALYTICS}\n"
        "integrators:\n"
        f"  - {{username: {ALPHA}, password_env: T_PW_ALPHA, facilities: [{LIBRARY}]}}\n"
        f"  - {{username: {BETA}, password_file: {beta_secret}, regions: [zhejiang/wenzhou/ouhai]}}\n"
    )
    prefix = unique("sec") + "/v1"
    env = {
        "T_PW_INGEST": passwords[INGEST_USER],
        "T_PW_ANALYTICS": passwords[ANALYTICS_USER],
        "T_PW_ALPHA": passwords[ALPHA],
    }
    ports = {name: free_port() for name in ("port", "services_port", "tls_port", "tls_services_port")}
    common = ["broker-config", "--registry", str(registry), "--integrators", str(work / "integrators.yaml"),
              "--topic-prefix", prefix, "--bind", "127.0.0.1"]
    result = run_facmon(*common, "--out", str(work / "out"), "--port", str(ports["port"]),
                        "--services-port", str(ports["services_port"]), env=env)
    assert result.returncode == 0, result.stderr
    tls = run_facmon(
        *common, "--out", str(work / "tls"), "--port", str(ports["tls_port"]),
        "--services-port", str(ports["tls_services_port"]), "--tls-cert", str(pki.cert), "--tls-key", str(pki.key),
        env=env,
    )
    assert tls.returncode == 0, tls.stderr
    return BrokerFiles(work / "out", prefix, registry, passwords, tls_out=work / "tls", result=result,
                       integrators=work / "integrators.yaml", env=env, **ports)


def ingester_process(workdir: Path, files: BrokerFiles, influx_url: str, database: str) -> IngesterProcess:
    """A `facmon ingest` that logs in with its generated account on the services' listener (not started)."""
    password = files.passwords[INGEST_USER]
    return IngesterProcess(
        workdir,
        mqtt_url=f"mqtt://{INGEST_USER}:{password}@127.0.0.1:{files.services_port}",
        influx_url=influx_url,
        influx_db=database,
        topic_prefix=files.prefix,
        client_id=unique("ingest-acl-"),
        registry_text=REGISTRY_YAML,
    )


def start_broker(workdir: Path, conf: str) -> LocalMosquitto:
    broker = LocalMosquitto(workdir, extra_config=conf, persistence=False)
    try:
        broker.start()
    except ServerUnavailable as exc:
        server_missing(exc)
    return broker


@pytest.fixture(scope="session")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, broker_files: BrokerFiles) -> Iterator[LocalMosquitto]:
    """Mosquitto with the generated TLS listeners (services' and integrators')."""
    conf = (broker_files.tls_out / "mosquitto.conf").read_text()
    broker = start_broker(tmp_path_factory.mktemp("tls-mosquitto"), conf)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory, broker_files: BrokerFiles) -> Iterator[LocalMosquitto]:
    """Mosquitto with the generated plain mosquitto.conf as it is, after localstack's own listener (which, with
    per-listener settings and no password file of its own, lets nobody in)."""
    conf = (broker_files.out / "mosquitto.conf").read_text()
    broker = start_broker(tmp_path_factory.mktemp("secure-mosquitto"), conf)
    yield broker
    broker.stop()


@dataclass(frozen=True)
class SecureInflux:
    server: LocalInfluxDB
    database: str
    passwords: dict[str, str]


@pytest.fixture(scope="session")
def secure_influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureInflux]:
    """InfluxDB with auth on: an admin, the readings and evidence databases, and the two service users with the
    documented grants."""
    server = LocalInfluxDB(tmp_path_factory.mktemp("secure-influx"), auth=True)
    try:
        server.start()
    except ServerUnavailable as exc:
        server_missing(exc)
    database = "facmon_sec"
    passwords = {INGEST_USER: secrets.token_urlsafe(18), ANALYTICS_USER: secrets.token_urlsafe(18)}
    server.query(f'CREATE DATABASE "{database}"')
    server.query(f'CREATE DATABASE "{database}_evidence"')
    for user, password in passwords.items():
        server.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
    for statement in influx_grants(database, INGEST_USER, ANALYTICS_USER):
        server.query(statement)
    yield SecureInflux(server, database, passwords)
    server.stop()


__all__ = ["ALPHA", "ANALYTICS_USER", "BETA", "COMMUNITY", "INGEST_USER", "LIBRARY", "BrokerFiles", "Pki"]
