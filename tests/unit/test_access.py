"""facmon.access: the integrators file, its checks against the registry, and the ACL/mosquitto.conf text (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from facmon.access import (
    AccessError,
    Account,
    Listener,
    PasswordSource,
    acl_rules,
    acl_text,
    check_prefix,
    influx_grants,
    mosquitto_conf_text,
    parse_integrators,
    resolve_accounts,
)
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
        ("write", "facmon/v1/_rejected"),
        ("write", "facmon/v1/alerts/#"),
    ]
    assert acl_rules(accounts[1], P) == [("write", "facmon/v1/alerts/#")]
    integrator = acl_rules(accounts[2], P)
    assert len(integrator) == 9  # three facilities under zhejiang/wenzhou
    assert ("write", "facmon/v1/wz-oh-comm-003/+/reading") in integrator
    assert ("write", "facmon/v1/wz-oh-comm-003/+/status") in integrator
    assert ("read", "facmon/v1/wz-oh-comm-003/+/rejected") in integrator
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


def test_mosquitto_conf_turns_authentication_on_and_carries_the_shipped_settings() -> None:
    plain = mosquitto_conf_text(Listener(), "/etc/m/passwd", "/etc/m/acl", "max_inflight_messages 5000\n", "hdr")
    lines = plain.splitlines()
    assert lines[0] == "# hdr"
    assert "listener 1883" in lines
    assert lines.index("allow_anonymous false") < lines.index("max_inflight_messages 5000")
    assert {"password_file /etc/m/passwd", "acl_file /etc/m/acl"} <= set(lines)
    tls = mosquitto_conf_text(Listener(8883, "0.0.0.0", "/c.pem", "/k.pem"), "/p", "/a", "")
    assert [
        line for line in tls.splitlines() if line.split()[:1] in (["listener"], ["certfile"], ["keyfile"],
                                                                  ["tls_version"])
    ] == ["listener 8883 0.0.0.0", "certfile /c.pem", "keyfile /k.pem", "tls_version tlsv1.2"]
    with pytest.raises(ValueError, match="both a certificate file and a key file"):
        Listener(certfile="/c.pem").lines()
    with pytest.raises(ValueError, match="one line"):
        mosquitto_conf_text(Listener(), "/p\nallow_anonymous true", "/a", "")


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

    from facmon.brokerconfig import load_integrators
    from sensors.registry import load_registry

    examples = Path(__file__).resolve().parents[2] / "examples"
    accounts = load_integrators(examples / "integrators.yaml", load_registry(examples / "registry.yaml"))
    assert [a.role for a in accounts] == ["ingester", "analytics", "integrator", "integrator"]
