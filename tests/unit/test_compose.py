"""docker-compose.yml and the Dockerfile, checked without Docker (no engine runs here): the Compose
Specification's JSON schema, mounted files, facmon commands, dependencies, volumes, variables and the
settings each facmon service would start with."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dashboards.provisioning import DASHBOARDS_PATH, ENV
from facmon.access.rules import (
    SIMULATOR_PASSWORD_ENV,
    SIMULATOR_USER,
    PasswordSource,
    parse_integrators,
    resolve_accounts,
)
from facmon.cli.main import build_parser
from facmon.core.settings import load_settings
from sensors.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
EXAMPLE_ENV = ROOT / "deploy" / "compose" / "example.env"
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def example_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in EXAMPLE_ENV.read_text().splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def filled_env(simulator: bool = False) -> dict[str, str]:
    """example.env as an operator fills it in: every placeholder replaced (facmon refuses the placeholders)."""
    env = {name: f"{name.lower().replace('_', '-')}-{index:04d}-x" for index, name in enumerate(example_env())}
    if simulator:
        env |= {"FACMON_SIMULATOR": "yes", "FACMON_MQTT_SIMULATOR_PASSWORD": "simulator-secret-0001"}
    return env


def substitute(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}."""
    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name in env:
            return env[name]
        if kind == "-":
            return rest
        raise AssertionError(f"${{{name}}} has no value and no default")
    return VARIABLE.sub(value, text)


def resolved(env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(substitute(COMPOSE_TEXT, example_env() if env is None else env))


def test_the_file_follows_the_compose_specification():
    if not SCHEMA.exists():
        pytest.fail(f"{SCHEMA} is missing: shared/ must sit beside the repository")
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(COMPOSE)
    jsonschema.Draft7Validator(schema).validate(resolved())


def bind_mounts(services: dict[str, Any]) -> list[tuple[str, str, str]]:
    mounts = []
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((name, source, target))
    return mounts


def test_every_mounted_file_is_in_the_repository():
    mounts = bind_mounts(resolved()["services"])
    assert mounts
    for service, source, _ in mounts:
        assert (ROOT / source).exists(), f"{service}: {source} is not in the repository"


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE["volumes"])
    used = {volume.split(":")[0] for service in SERVICES.values() for volume in service.get("volumes", [])
            if not volume.startswith((".", "/", "$"))}
    assert used == declared


def facmon_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for name, service in resolved()["services"].items():
        for command in (service.get("command"), service.get("healthcheck", {}).get("test", [None])[1:]):
            if command and command[0] == "facmon":
                commands.append((name, command))
    return commands


def test_every_facmon_command_is_a_real_command():
    commands = facmon_commands()
    assert {name for name, _ in commands} >= {"broker-config", "ingest", "analytics", "registry-sync", "simulator"}
    for name, command in commands:
        try:
            args = build_parser().parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"{name}: {' '.join(command)} is not a valid facmon command line")
        assert callable(args.handler), name


def test_dependencies_wait_for_what_they_need():
    for name, service in SERVICES.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target} to be healthy: no healthcheck"
            elif condition == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} runs once: restart must be 'no'"
    assert SERVICES["ingest"]["depends_on"] == {"mosquitto": {"condition": "service_healthy"},
                                               "influxdb": {"condition": "service_healthy"}}
    for name in ("mosquitto", "influxdb", "grafana", "ingest"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_variables_are_in_the_example_env():
    used = {match.group(1) for match in VARIABLE.finditer(COMPOSE_TEXT)}
    required = {match.group(1) for match in VARIABLE.finditer(COMPOSE_TEXT) if match.group(2) == "?"}
    listed = set(example_env())
    commented = set(re.findall(r"^# (\w+)=", EXAMPLE_ENV.read_text(), re.MULTILINE))
    assert required <= listed
    assert used <= listed | commented
    assert listed <= used, "example.env sets variables the compose file does not use"


def test_grafana_is_provisioned_from_the_repository_and_locked_down():
    grafana = resolved()["services"]["grafana"]
    mounts = {target: source for _, source, target in bind_mounts({"grafana": grafana})}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./dashboards/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./dashboards/provisioning/dashboards"
    assert mounts[DASHBOARDS_PATH] == "./dashboards/en"  # one language's set: both share their uids
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == Path(DASHBOARDS_PATH)
    assert (ROOT / "dashboards" / "en" / home.name).exists()
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert set(ENV.values()) <= set(env), "the data source's $__env{} placeholders need these"
    influx = resolved()["services"]["influxdb"]["environment"]
    assert env["FACMON_GRAFANA_INFLUX_USER"] == influx["INFLUXDB_READ_USER"]
    assert env["FACMON_GRAFANA_INFLUX_PASSWORD"] == influx["INFLUXDB_READ_USER_PASSWORD"]
    assert influx["INFLUXDB_DB"] == env["FACMON_GRAFANA_INFLUX_DB"] == "facmon"


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_grafana_and_the_services_speak_the_configured_language(language):
    env = {**filled_env(simulator=True), "FACMON_LANGUAGE": language}
    services = resolved(env)["services"]
    mounts = {target: source for _, source, target in bind_mounts({"grafana": services["grafana"]})}
    assert mounts[DASHBOARDS_PATH] == f"./dashboards/{language}"
    assert (ROOT / "dashboards" / language / "overview.json").exists()
    assert services["analytics"]["environment"]["FACMON_LANGUAGE"] == language


@pytest.mark.parametrize("service", ["ingest", "analytics", "registry-sync", "simulator"])
def test_facmon_services_start_with_valid_settings(service, monkeypatch):
    for key in [key for key in __import__("os").environ if key.startswith("FACMON_")]:
        monkeypatch.delenv(key)
    environment = resolved(filled_env(simulator=True))["services"][service]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings()
    assert str(settings.registry) == "/etc/facmon/registry.yaml"
    if service != "simulator":
        assert settings.influx_url == "http://influxdb:8086"
        assert settings.influx_db == "facmon"
        assert settings.influx_auth() is not None
    if "FACMON_MQTT_URL" in environment:
        assert settings.mqtt.host == "mosquitto"
        assert settings.mqtt.password is not None


def test_the_broker_accounts_match_the_registry_and_the_environment():
    services = resolved(filled_env(simulator=True))["services"]
    config = services["broker-config"]
    mounts = {target: source for _, source, target in bind_mounts({"broker-config": config})}
    integrators = yaml.safe_load((ROOT / mounts["/etc/facmon/integrators.yaml"]).read_text())
    registry = load_registry(ROOT / mounts["/etc/facmon/registry.yaml"])
    args = build_parser().parse_args(config["command"][1:])
    assert args.simulator == "yes"
    simulator = PasswordSource(password_env=SIMULATOR_PASSWORD_ENV)
    accounts = resolve_accounts(parse_integrators(integrators), registry, simulator=simulator)
    assert {account.secret.password_env for account in accounts} == set(config["environment"])
    users = {account.username: account for account in accounts}
    for service in ("ingest", "analytics", "simulator"):
        url = load_settings({"mqtt_url": services[service]["environment"]["FACMON_MQTT_URL"]}).mqtt
        assert url.username in users, f"{service} logs in as {url.username}, which broker-config does not create"
        assert users[url.username].is_service, service
        assert url.port == 1884, f"{service} must use the services' listener"
        secret = config["environment"][users[url.username].secret.password_env]
        assert url.password is not None
        assert url.password.get_secret_value() == secret
    assert users[SIMULATOR_USER].facilities == tuple(sorted(f.id for f in registry))
    without = build_parser().parse_args(resolved(filled_env())["services"]["broker-config"]["command"][1:])
    assert without.simulator == "no"  # the simulator's account exists only when asked for


def test_published_ports_are_on_loopback_only():
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"mosquitto": ["127.0.0.1:1883:1883"], "grafana": ["127.0.0.1:3000:3000"]}


def test_mosquitto_reads_what_broker_config_writes():
    services = resolved()["services"]
    command = services["broker-config"]["command"]
    install_dir = command[command.index("--install-dir") + 1]
    out = command[command.index("--out") + 1]
    assert f"broker-config:{out}" in services["broker-config"]["volumes"]
    assert f"broker-config:{install_dir}:ro" in services["mosquitto"]["volumes"]
    lines = [line for line in (ROOT / "deploy" / "mosquitto" / "compose.conf").read_text().splitlines()
             if line and not line.startswith("#")]
    assert f"include_dir {install_dir}" in lines
    assert not [line for line in lines if line.split()[0] in ("listener", "allow_anonymous", "password_file")]


def test_the_dockerfile_copies_what_exists_and_brings_mosquitto_passwd():
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = [word for line in dockerfile.splitlines() if line.startswith("COPY")
               for word in line.split()[1:-1]]
    assert sources
    assert all((ROOT / source).exists() for source in sources), sources
    packages = {path.split("/")[0] for path in ("facmon", "sensors", "ingest", "analytics", "dashboards")}
    assert packages <= set(sources)
    assert "mosquitto" in dockerfile  # mosquitto_passwd for broker-config
    assert SERVICES["broker-config"]["user"] == "1883:1883"
    assert "-o 1883 -g 1883" in dockerfile


def test_the_influxdb_init_script_makes_the_documented_grants_and_the_evidence_database():
    """The image's own variables give the ingester WRITE on facmon and grafana READ on it; the init script adds the
    rest of facmon.access.rules.influx_grants, so analytics can only READ the readings and the ingester has no grant on
    the evidence database."""
    from facmon.access.rules import influx_grants

    influx = resolved()["services"]["influxdb"]
    assert "INFLUXDB_USER" not in influx["environment"], "that would give analytics ALL on the readings"
    assert any(str(v).endswith("/docker-entrypoint-initdb.d/facmon.sh:ro") for v in influx["volumes"])
    script = (ROOT / "deploy" / "compose" / "influxdb-init.sh").read_text()
    grants = {line.split("'", 1)[1].rsplit("'", 1)[0] for line in script.splitlines() if "'GRANT " in line}
    ingest = influx["environment"]["INFLUXDB_WRITE_USER"]
    analytics = resolved()["services"]["analytics"]["environment"]
    expected = influx_grants("facmon", ingest, analytics["FACMON_INFLUX_USER"], analytics["FACMON_INFLUX_EVIDENCE_DB"])
    assert expected[0] == f'GRANT WRITE ON "facmon" TO "{ingest}"'  # from INFLUXDB_WRITE_USER
    assert grants == {*expected[1:], 'GRANT READ ON "facmon_evidence" TO "grafana"'}
    assert f'CREATE DATABASE "{analytics["FACMON_INFLUX_EVIDENCE_DB"]}"' in script
