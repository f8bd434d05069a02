"""`facmon check-config` tries each alert channel and the readings, and `--send-test` sends a real notice: a real
aiosmtpd server with a login, a real HTTP server, the real Mosquitto and InfluxDB; `facmon.cli.main` in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.alerts.webhook_sign import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from facmon.cli.main import main
from facmon.demo.localstack import free_port
from tests.conftest import pinned_env
from tests.integration.analytics.auditing import (
    LOCAL_HOOK,
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    registry_data,
    wait_for,
)

pytestmark = [pytest.mark.servers,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]  # loopback
SECRET = "check-config-secret-0123456789"


@pytest.fixture
def login_smtp():
    server = SmtpServer(auth=True)
    server.start()
    yield server
    server.stop()


def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Any, mosquitto: Any, smtp_url: str,
          hooks: list[str], password: str = SMTP_PASSWORD) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(registry_data(), allow_unicode=True), encoding="utf-8")
    auditors = tmp_path / "auditors.yaml"
    entries = [{"id": "city", "name": "City", "regions": ["*"], "email": "city@audit.example.org"}]
    entries += [{"id": f"hook{i}", "name": f"Hook {i}", "regions": ["*"], "webhook": url, **LOCAL_HOOK,
                 "webhook_secret_env": "FACMON_TEST_SECRET"} for i, url in enumerate(hooks)]
    auditors.write_text(yaml.safe_dump({"auditors": entries}), encoding="utf-8")
    for key in list(os.environ):
        if key.startswith("FACMON_"):
            monkeypatch.delenv(key)
    env = {"FACMON_REGISTRY": str(registry), "FACMON_MQTT_URL": mosquitto.url, "FACMON_INFLUX_URL": db.url,
           "FACMON_INFLUX_DB": db.database, "FACMON_AUDITORS": str(auditors), "FACMON_SMTP_URL": smtp_url,
           "FACMON_SMTP_USER": SMTP_USER, "FACMON_SMTP_PASSWORD": password, "FACMON_SMTP_FROM": "facmon@example.org",
           "FACMON_TEST_SECRET": SECRET, **pinned_env()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def checks(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["check-config", "--timeout", "1", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["name"] == name]


def test_each_channel_is_tried(db, mosquitto, login_smtp, webhook, tmp_path, monkeypatch, capsys):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    setup(tmp_path, monkeypatch, db, mosquitto, login_smtp.url, [webhook.url(), dead])
    code, report = checks(capsys)
    assert code == 1
    (smtp,) = by_name(report, "smtp")
    assert smtp["ok"], smtp
    assert f"logged in as {SMTP_USER}" in smtp["detail"]
    live, down = by_name(report, "webhook")
    assert live["ok"], live
    assert webhook.heads == ["/hook"]
    assert not down["ok"]
    assert "ConnectionRefusedError" in down["detail"]
    assert report["failed"] == ["webhook"]
    assert "/hook" not in json.dumps(report)  # a webhook's path may hold a token: never shown
    assert not webhook.requests  # checking sends no notice


def test_wrong_mail_password_and_nobody_listening_fail(db, mosquitto, login_smtp, tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, db, mosquitto, login_smtp.url, [], password="wrong-password-1")
    code, report = checks(capsys)
    (smtp,) = by_name(report, "smtp")
    assert (code, smtp["ok"]) == (1, False)
    assert "SMTPAuthenticationError" in smtp["detail"]
    assert "wrong-password-1" not in json.dumps(report)
    setup(tmp_path, monkeypatch, db, mosquitto, f"smtp://127.0.0.1:{free_port()}", [])
    code, report = checks(capsys)
    (smtp,) = by_name(report, "smtp")
    assert (code, smtp["ok"]) == (1, False)
    assert "Connection refused" in smtp["detail"]


def test_send_test_delivers_a_real_notice_on_each_channel(db, mosquitto, login_smtp, webhook, tmp_path,
                                                          monkeypatch, capsys):
    setup(tmp_path, monkeypatch, db, mosquitto, login_smtp.url, [webhook.url()])
    code, report = checks(capsys, "--send-test", "city")
    assert code == 0, report
    ((to, mail),) = wait_for(login_smtp.mailbox.messages, 1)
    assert (to, mail["Subject"]) == (["city@audit.example.org"], "[facmon] Test notice")
    assert mail["Date"]
    assert mail["Message-ID"]
    code, report = checks(capsys, "--send-test", "hook0")
    assert code == 0, report
    (body,) = wait_for(webhook.received, 1)
    assert body["kind"] == "test"
    headers = webhook.requests[0][1]
    assert verify(SECRET.encode(), headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], webhook.raw[0],
                  int(headers[TIMESTAMP_HEADER]))
    code, report = checks(capsys, "--send-test", "nobody")
    assert code == 1
    assert "'nobody' is not an id" in by_name(report, "send-test")[0]["detail"]


def test_readings_missing_or_empty_is_a_warning(db, mosquitto, login_smtp, tmp_path, monkeypatch, capsys):
    setup(tmp_path, monkeypatch, db, mosquitto, login_smtp.url, [])
    _, report = checks(capsys)
    (readings,) = by_name(report, "readings")
    assert (readings["ok"], readings["advisory"]) == (False, True)
    assert "holds no readings" in readings["detail"]
    db.write(b"reading,facility=wz-lc-lib-001,sensor=door-1 occupancy=3i 1764547200000000000")
    _, report = checks(capsys)
    (readings,) = by_name(report, "readings")
    assert readings["ok"]
    assert "newest at 2025-12-01T00:00:00Z" in readings["detail"]
    monkeypatch.setenv("FACMON_INFLUX_DB", db.database + "_typo")
    code, report = checks(capsys)
    (readings,) = by_name(report, "readings")
    assert "does not exist" in readings["detail"]
    assert code == 1  # the influxdb check fails on a missing database too
