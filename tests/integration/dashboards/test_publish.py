"""`facmon dashboards publish` against a recorder that answers like Grafana's HTTP API (no Grafana runs here)."""

from __future__ import annotations

import logging

import pytest

from dashboards import render
from dashboards.model import DATASOURCE_UID, EVIDENCE_UID
from facmon.cli.main import main
from tests.integration.dashboards.grafana_recorder import grafana

TOKEN = "glsa_recorder_token_0123456789abcdef"
SECRET = "influx-read-password-42"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def env(monkeypatch):
    for name in ("GRAFANA_TOKEN", "GRAFANA_URL", "FACMON_GRAFANA_INFLUX_URL", "FACMON_GRAFANA_INFLUX_DB",
                 "FACMON_GRAFANA_INFLUX_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FACMON_GRAFANA_INFLUX_PASSWORD", SECRET)
    return monkeypatch


def publish(url, *extra):
    return main(["dashboards", "publish", "--url", url, *extra])


def test_publishing_twice_leaves_one_copy_of_everything(env, token_file, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with grafana(TOKEN) as (url, state):
        args = ("--token-file", str(token_file), "--folder", "facmon", "--datasource-url", "http://influxdb:8086",
                "--datasource-db", "facmon", "--datasource-user", "grafana")
        assert publish(url, *args) == 0
        first = state.calls()
        assert publish(url, *args) == 0
    assert first[:4] == [("GET", f"/api/datasources/uid/{DATASOURCE_UID}"), ("POST", "/api/datasources"),
                         ("GET", f"/api/datasources/uid/{EVIDENCE_UID}"), ("POST", "/api/datasources")]
    assert first[4:6] == [("GET", "/api/folders"), ("POST", "/api/folders")]
    second = state.calls()[len(first):]
    assert second[:5] == [("GET", f"/api/datasources/uid/{DATASOURCE_UID}"),
                          ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"),
                          ("GET", f"/api/datasources/uid/{EVIDENCE_UID}"),
                          ("PUT", f"/api/datasources/uid/{EVIDENCE_UID}"), ("GET", "/api/folders")]
    assert ("POST", "/api/folders") not in second
    assert list(state.datasources) == [DATASOURCE_UID, EVIDENCE_UID]
    for uid, db in ((DATASOURCE_UID, "facmon"), (EVIDENCE_UID, "facmon_evidence")):
        source = state.datasources[uid]
        assert (source["type"], source["url"], source["user"], source["jsonData"]["dbName"]) == (
            "influxdb", "http://influxdb:8086", "grafana", db)
        assert source["secureJsonData"] == {"password": SECRET}
    assert [folder["title"] for folder in state.folders] == ["facmon"]
    expected = {model["uid"]: model for model in render.dashboards().values()}
    assert set(state.dashboards) == set(expected)
    for uid, stored in state.dashboards.items():
        assert stored["version"] == 2
        assert stored["folderUid"] == "f1"
        assert stored["dashboard"] == {**expected[uid], "id": None}
    posts = [r for r in state.requests if r.path == "/api/dashboards/db"]
    assert all(r.body["overwrite"] is True for r in posts)
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in state.requests)
    out = capsys.readouterr()
    shown = out.out + out.err + caplog.text
    assert TOKEN not in shown
    assert SECRET not in shown
    assert "dashboard: /d/facmon-overview/" in out.out


@pytest.mark.parametrize(("how", "environ"), [
    (("--lang", "zh_CN"), {}),
    ((), {"FACMON_LANGUAGE": "zh_CN"}),
    ((), {"LANG": "zh_CN.UTF-8"}),  # no setting: the locale's language
])
def test_the_dashboards_are_published_in_the_configured_language(env, token_file, how, environ):
    env.delenv("FACMON_LANGUAGE", raising=False)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.delenv(name, raising=False)
    env.setenv("LANG", "en_US.UTF-8")
    for name, value in environ.items():
        env.setenv(name, value)
    with grafana(TOKEN) as (url, state):
        assert publish(url, "--token-file", str(token_file), "--skip-datasource", *how) == 0
    expected = {model["uid"]: model for model in render.dashboards("zh_CN").values()}
    assert {uid: stored["dashboard"] for uid, stored in state.dashboards.items()} == {
        uid: {**model, "id": None} for uid, model in expected.items()}
    assert state.dashboards["facmon-overview"]["dashboard"]["title"] == "facmon — 设施使用总览"


def test_a_provisioned_datasource_is_left_alone(env, token_file, capsys):
    with grafana(TOKEN) as (url, state):
        state.datasources[DATASOURCE_UID] = {"uid": DATASOURCE_UID, "id": 7, "name": "facmon InfluxDB",
                                             "readOnly": True}
        assert publish(url, "--token-file", str(token_file)) == 0
    assert ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}") not in state.calls()
    assert len(state.dashboards) == 3
    assert all(stored["folderUid"] is None for stored in state.dashboards.values())
    assert "left as it is" in capsys.readouterr().out


def test_skip_datasource_and_token_from_the_environment(env, capsys):
    env.setenv("GRAFANA_TOKEN", TOKEN)
    with grafana(TOKEN) as (url, state):
        env.setenv("GRAFANA_URL", url)
        assert main(["dashboards", "publish", "--skip-datasource"]) == 0
    assert not any("datasources" in path for _, path in state.calls())
    assert len(state.dashboards) == 3


def test_a_refused_token_fails_without_showing_it(env, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with grafana(TOKEN) as (url, state):
        assert publish(url, "--token", "wrong-token-value") == 1
    err = capsys.readouterr().err
    assert "Grafana answered 401" in err
    assert "wrong-token-value" not in err + caplog.text
    assert state.dashboards == {}


def test_no_token_or_no_url_is_a_usage_error(env, capsys):
    assert publish("http://127.0.0.1:9") == 2
    assert "give a token" in capsys.readouterr().err
    assert main(["dashboards", "publish", "--token", TOKEN]) == 2


def test_an_unreachable_grafana_is_one_line(env, token_file, capsys):
    from facmon.demo.localstack import free_port

    assert publish(f"http://127.0.0.1:{free_port()}", "--token-file", str(token_file), "--timeout", "2") == 1
    err = capsys.readouterr().err
    assert err.startswith("facmon: Grafana is unreachable")
    assert TOKEN not in err
