"""facmon.access.rules: the integrators file, its checks against the registry, and the ACL/mosquitto.conf text
(pure)."""

from __future__ import annotations

from typing import Any

import pytest

from facmon.access.rules import (
    AccessError,
    Account,
    BrokerFiles,
    BrokerLimits,
    Listener,
    PasswordSource,
    acl_rules,
    acl_text,
    check_prefix,
    dynsec_config,
    influx_grants,
    mosquitto_conf_text,
    parse_integrators,
    resolve_accounts,
)
from sensors.contract import MAX_PAYLOAD_BYTES
from sensors.registry import parse_registry

P = "facmon/v1"


def facility(fid: str, region: str) -> dict[str, Any]:
    return {"id": fid, "name": fid, "type": "library", "region": region, "capacity": 10, "opening_hours": {}}


REGISTRY = parse_registry(
    {
        "facilities": [
            facility("wz-lc-lib-001", "zhejiang/wenzhou/lucheng"),
            facility("wz-oh-comm-003", "zhejiang/wenzhou/ouhai"),
            facility("wz-ohx-gym-004", "zhejiang/wenzhou/ouhaix"),
            facility("hz-lib-009", "zhejiang/hangzhou"),
        ]
    }
)


def config(*integrators: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "ingester": {"password_env": "PW_INGEST"},
        "analytics": {"password_file": "/etc/facmon/analytics.pw"},
        "integrators": list(integrators),
        **top,
    }


def problems(data: object) -> list[str]:
    with pytest.raises(AccessError) as caught:
        resolve_accounts(parse_integrators(data, "i.yaml"), REGISTRY, "i.yaml")
    return list(caught.value.problems)


def test_a_valid_file_gives_accounts_with_default_service_names_and_region_expansion() -> None:
    accounts = resolve_accounts(
        parse_integrators(
            config(
                {"username": "acme", "password_env": "PW_ACME", "facilities": ["wz-lc-lib-001"]},
                {"username": "ouhai.co", "password_file": "/run/ouhai", "regions": ["zhejiang/wenzhou/ouhai/"]},
            )
        ),
        REGISTRY,
    )
    assert [(a.username, a.role, a.facilities) for a in accounts] == [
        ("facmon-ingest", "ingester", ()),
        ("facmon-analytics", "analytics", ()),
        ("acme", "integrator", ("wz-lc-lib-001",)),
        ("ouhai.co", "integrator", ("wz-oh-comm-003",)),  # whole path segments: not ouhaix
    ]
    assert accounts[3].secret.describe() == "file /run/ouhai"


def test_the_ingester_account_name_is_configurable() -> None:
    data = config(ingester={"username": "ingest-east", "password_env": "PW"})
    assert resolve_accounts(parse_integrators(data), REGISTRY)[0].username == "ingest-east"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"username": "a b", "password_env": "X", "facilities": ["wz-lc-lib-001"]},
         "integrators[0] (username invalid) username: must match"),
        ({"username": "acme", "password_env": "X", "facilities": ["Bad Id"]},
         "integrators[0] (acme) facilities[0]: must be a facility id matching"),
        ({"username": "acme", "facilities": ["wz-lc-lib-001"]},
         "integrators[0] (acme): give exactly one of password_env"),
        ({"username": "acme", "password_env": "X", "password_file": "/f", "facilities": ["wz-lc-lib-001"]},
         "integrators[0] (acme): give exactly one of password_env"),
        ({"username": "acme", "password_env": "X"}, "integrators[0] (acme): serves nothing"),
        ({"username": "acme", "password_env": "X", "facility": ["wz-lc-lib-001"]},
         "integrators[0] (acme) facility: unknown key"),
        ({"username": "acme", "password_env": "X", "regions": ["Zhejiang"]},
         "integrators[0] (acme) regions[0]: must be a region path"),
        ({"username": "acme", "password_env": "X", "facilities": ["wz-xx-999"]},
         "integrators[0] (acme) facilities[0]: unknown facility 'wz-xx-999' (not in the registry)"),
        ({"username": "acme", "password_env": "X", "regions": ["zhejiang/ningbo"]},
         "integrators[0] (acme) regions[0]: no facility of the registry is in region 'zhejiang/ningbo'"),
        ({"username": "facmon-ingest", "password_env": "X", "facilities": ["wz-lc-lib-001"]},
         "integrators[0] (facmon-ingest) username: 'facmon-ingest' is already used by ingester (facmon-ingest)"),
    ],
)
def test_problems_name_the_entry_and_the_field(entry: dict[str, Any], expected: str) -> None:
    found = problems(config({"username": "ok", "password_env": "OK", "facilities": ["hz-lib-009"]}, entry))
    expected = expected.replace("integrators[0]", "integrators[1]")
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems(config(
        {"username": "a", "password_env": "X", "facilities": ["nope-1", "nope-2"]},
        {"username": "b", "password_env": "X", "regions": ["nowhere"]},
    ))
    assert len(found) == 3, found


@pytest.mark.parametrize(
    "entry",
    [
        {"username": "acme", "password": "hunter2-secret", "facilities": ["wz-lc-lib-001"]},
        {"username": "acme", "password_env": "hunter2-secret!", "facilities": ["wz-lc-lib-001"]},
        {"username": "acme", "password_env": 12345678901234, "facilities": ["wz-lc-lib-001"]},
    ],
)
def test_a_password_written_into_the_file_is_refused_and_never_echoed(entry: dict[str, Any]) -> None:
    with pytest.raises(AccessError) as caught:
        parse_integrators(config(entry), "i.yaml")
    message = str(caught.value)
    assert "hunter2" not in message
    assert "12345678901234" not in message
    assert message.startswith("i.yaml: integrators[0] (acme)")


def test_a_missing_service_account_is_named() -> None:
    with pytest.raises(AccessError, match="ingester: is required"):
        parse_integrators({"analytics": {"password_env": "X"}}, "i.yaml")
    with pytest.raises(AccessError, match="top level must be a mapping"):
        parse_integrators(["not", "a", "mapping"], "i.yaml")


def test_acl_grants_each_role_exactly_its_topics() -> None:
    accounts = resolve_accounts(
        parse_integrators(config({"username": "acme", "password_env": "X", "regions": ["zhejiang/wenzhou"]})),
        REGISTRY,
    )
    text = acl_text(accounts, P, "made for a test")
    assert text.splitlines()[0] == "# made for a test"
    before_first_user = text.split("\nuser ", 1)[0]
    assert "topic " not in before_first_user  # nothing granted to anonymous clients
    assert acl_rules(accounts[0], P) == [
        ("read", "facmon/v1/#"),
        ("write", "facmon/v1/+/+/rejected"),
        ("write", "facmon/v1/+/_rejected"),
        ("write", "facmon/v1/_rejected"),
        ("write", "facmon/v1/alerts/#"),
    ]
    assert acl_rules(accounts[1], P) == [("write", "facmon/v1/alerts/#")]
    integrator = acl_rules(accounts[2], P)
    assert len(integrator) == 24  # three facilities under zhejiang/wenzhou
    assert ("write", "facmon/v1/wz-oh-comm-003/#") in integrator  # topic mistakes reach the ingester's notices
    assert ("write", "facmon/v1/WZ-OH-COMM-003/#") in integrator  # the id in capitals, as printed on labels
    assert ("deny-write", "facmon/v1/wz-oh-comm-003/+/rejected") in integrator
    assert ("deny-write", "facmon/v1/wz-oh-comm-003/_rejected") in integrator
    assert ("read", "facmon/v1/wz-oh-comm-003/+/rejected") in integrator
    assert ("read", "facmon/v1/wz-oh-comm-003/_rejected") in integrator
    assert not any("hz-lib-009" in topic for _, topic in integrator)
    assert not any(access == "write" and topic.endswith("rejected") for access, topic in integrator)


@pytest.mark.parametrize("bad", ["wz/lib", "#", "+", "a b", "x\nuser admin", "alerts", ""])
def test_an_id_that_could_widen_the_acl_never_reaches_it(bad: str) -> None:
    account = Account("acme", "integrator", PasswordSource(password_env="X"), "integrators[0] (acme)", (bad,))
    with pytest.raises(ValueError, match="cannot go into an ACL"):
        acl_rules(account, P)


@pytest.mark.parametrize("prefix", ["facmon/#", "facmon/+/v1", "fac mon", "facmon//v1", "facmon\nuser x", ""])
def test_the_prefix_is_checked_before_it_reaches_the_acl(prefix: str) -> None:
    with pytest.raises(ValueError, match="topic prefix"):
        check_prefix(prefix)


FILES = BrokerFiles("/etc/m/passwd", "/etc/m/acl", "/etc/m/dynsec.json", "/lib/dynsec.so")


def test_mosquitto_conf_has_a_listener_for_services_and_one_for_integrators() -> None:
    plain = mosquitto_conf_text(Listener(), Listener(1884, "127.0.0.1"), FILES, "max_inflight_messages 5000\n",
                                header="hdr")
    lines = plain.splitlines()
    assert lines[0] == "# hdr"
    assert lines.index("per_listener_settings true") < lines.index("listener 1884 127.0.0.1")
    services = lines[lines.index("listener 1884 127.0.0.1"):lines.index("listener 1883")]
    integrators = lines[lines.index("listener 1883"):lines.index("max_inflight_messages 5000")]
    assert {"allow_anonymous false", "password_file /etc/m/passwd", "acl_file /etc/m/acl"} <= set(services)
    assert "use_username_as_clientid true" not in services
    assert {"allow_anonymous false", "use_username_as_clientid true", "plugin /lib/dynsec.so",
            "plugin_opt_config_file /etc/m/dynsec.json", "max_connections 5000"} <= set(integrators)
    assert "password_file /etc/m/passwd" not in integrators  # services' accounts cannot log in there
    tls = mosquitto_conf_text(Listener(8883, "0.0.0.0", "/c.pem", "/k.pem"), Listener(8884, None, "/c.pem", "/k.pem"),
                              FILES, "")
    assert [
        line for line in tls.splitlines() if line.split()[:1] in (["listener"], ["certfile"], ["keyfile"],
                                                                  ["tls_version"])
    ] == ["listener 8884", "certfile /c.pem", "keyfile /k.pem", "tls_version tlsv1.2",
          "listener 8883 0.0.0.0", "certfile /c.pem", "keyfile /k.pem", "tls_version tlsv1.2"]
    with pytest.raises(ValueError, match="both a certificate file and a key file"):
        Listener(certfile="/c.pem").lines()
    with pytest.raises(ValueError, match="one line"):
        mosquitto_conf_text(Listener(), Listener(1884), BrokerFiles("/p\nallow_anonymous true", "/a", "/d"), "")
    with pytest.raises(ValueError, match="two ports"):
        mosquitto_conf_text(Listener(), Listener(), FILES, "")


def test_the_brokers_limits_follow_the_contract() -> None:
    lines = mosquitto_conf_text(Listener(), Listener(1884), FILES, "max_packet_size 1\n",
                                BrokerLimits(100, 8, 512)).splitlines()
    assert lines[-5:] == [
        f"max_packet_size {MAX_PAYLOAD_BYTES + 4096}",  # the last word wins over the shipped file's
        f"max_queued_bytes {2_000_000 * 512}",
        "max_keepalive 300",
        "persistent_client_expiration 35d",
        f"memory_limit {512 * 1024 * 1024}",
    ]
    assert {"max_connections 100", "max_connections 8"} <= set(lines)
    with pytest.raises(ValueError, match="at least 1"):
        BrokerLimits(0)


def test_integrator_logins_never_take_a_services_name_and_share_their_entry() -> None:
    found = problems(config(
        {"username": "facmon-ingest2", "password_env": "X", "facilities": ["hz-lib-009"]},
        {"username": "acme", "logins": ["acme-gw-1", "FACMON-x"], "password_env": "X", "facilities": ["hz-lib-009"]},
        {"username": "other", "logins": ["acme-gw-1"], "password_env": "X", "facilities": ["hz-lib-009"]},
    ))
    assert any(p.startswith("integrators[0] (facmon-ingest2) username: 'facmon-ingest2' starts with "
                            "'facmon-', which is reserved") for p in found), found
    assert any(p.startswith("integrators[1] (acme) logins[1]: 'FACMON-x' starts with") for p in found)
    assert any("integrators[2] (other) logins: 'acme-gw-1' is already used by integrators[1] (acme)" in p
               for p in found), found


def test_dynsec_config_denies_by_default_and_grants_each_integrator_its_facilities() -> None:
    accounts = resolve_accounts(parse_integrators(config(
        {"username": "acme", "logins": ["acme-gw-1"], "password_env": "X", "facilities": ["wz-lc-lib-001"]},
    )), REGISTRY)
    hashes = {name: {"password": "p", "salt": "s", "iterations": 101} for name in ("acme", "acme-gw-1")}
    dynsec = dynsec_config(accounts, P, hashes)
    assert dynsec["defaultACLAccess"] == {"publishClientSend": False, "publishClientReceive": False,
                                         "subscribe": False, "unsubscribe": True}
    assert [c["username"] for c in dynsec["clients"]] == ["acme", "acme-gw-1"]  # services are not in it
    [role] = dynsec["roles"]
    assert role["acls"] == [
        {"acltype": "subscribePattern", "topic": "facmon/v1/#", "allow": True},  # no $share/... filter matches
        {"acltype": "publishClientSend", "topic": "facmon/v1/wz-lc-lib-001/+/rejected", "priority": 10,
         "allow": False},
        {"acltype": "publishClientSend", "topic": "facmon/v1/wz-lc-lib-001/_rejected", "priority": 10,
         "allow": False},
        {"acltype": "publishClientSend", "topic": "facmon/v1/wz-lc-lib-001/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": "facmon/v1/wz-lc-lib-001/+/rejected", "allow": True},
        {"acltype": "publishClientReceive", "topic": "facmon/v1/wz-lc-lib-001/_rejected", "allow": True},
        {"acltype": "publishClientSend", "topic": "facmon/v1/WZ-LC-LIB-001/+/rejected", "priority": 10,
         "allow": False},
        {"acltype": "publishClientSend", "topic": "facmon/v1/WZ-LC-LIB-001/_rejected", "priority": 10,
         "allow": False},
        {"acltype": "publishClientSend", "topic": "facmon/v1/WZ-LC-LIB-001/#", "allow": True},
    ]
    assert "user acme" not in acl_text(accounts, P)  # the services' ACL holds services only


def test_the_simulator_account_exists_only_when_asked_for() -> None:
    data = parse_integrators(config())
    assert [a.role for a in resolve_accounts(data, REGISTRY)] == ["ingester", "analytics"]
    accounts = resolve_accounts(data, REGISTRY, simulator=PasswordSource(password_env="PW_SIM"))
    simulator = accounts[-1]
    assert (simulator.username, simulator.is_service) == ("facmon-simulator", True)
    assert acl_rules(simulator, P) == [("write", "facmon/v1/+/+/reading"), ("write", "facmon/v1/+/+/status"),
                                       ("read", "facmon/v1/+/+/rejected"), ("read", "facmon/v1/+/_rejected")]


def test_influx_grants_keep_the_ingester_off_the_evidence_and_analytics_off_writing_readings() -> None:
    assert influx_grants("facmon", "facmon-ingest", "facmon-analytics") == [
        'GRANT WRITE ON "facmon" TO "facmon-ingest"',
        'GRANT READ ON "facmon" TO "facmon-analytics"',
        'GRANT ALL ON "facmon_evidence" TO "facmon-analytics"',
    ]
    assert influx_grants("r", "i", "a", "ev")[2] == 'GRANT ALL ON "ev" TO "a"'
    with pytest.raises(ValueError, match="must not be the readings database"):
        influx_grants("facmon", "i", "a", "facmon")
    with pytest.raises(ValueError, match="must match"):
        influx_grants("facmon", 'x" WITH ALL PRIVILEGES', "a")


def test_the_example_integrators_file_fits_the_example_registry() -> None:
    from pathlib import Path

    from facmon.access.brokerconfig import load_integrators
    from sensors.registry import load_registry

    examples = Path(__file__).resolve().parents[2] / "examples"
    accounts = load_integrators(examples / "integrators.yaml", load_registry(examples / "registry.yaml"))
    assert [a.role for a in accounts] == ["ingester", "analytics", "integrator", "integrator"]


def test_regions_written_in_chinese_expand_to_their_facilities() -> None:
    registry = parse_registry({"facilities": [facility("jy-lib-01", "浙江省/丽水市/缙云县"),
                                              facility("jy-lib-02", "浙江省/丽水市/缙云县城"),
                                              facility("hz-lib-01", "浙江省/杭州市")]})
    accounts = resolve_accounts(parse_integrators(config(
        {"username": "jinyun", "password_env": "PW", "regions": ["浙江省/丽水市/缙云县/"]})), registry)
    assert accounts[-1].facilities == ("jy-lib-01",)  # whole levels: not 缙云县城


@pytest.mark.parametrize("region", ["浙江省/../杭州市", "浙江省\u202e", "浙\u200b江省", "浙江省 "])
def test_hostile_region_prefixes_are_refused(region: str) -> None:
    found = problems(config({"username": "acme", "password_env": "X", "regions": [region]}))
    assert any(p.startswith("integrators[0] (acme) regions[0]: must be a region path like") for p in found), found
