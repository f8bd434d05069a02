"""Alerts after analysis runs, end to end: a real SMTP server, a real webhook, the real Mosquitto and InfluxDB.

The tests read what arrives (mail text, JSON bodies, MQTT messages) and what InfluxDB records (``alert``,
``alert_delivery``), run after run: raise, nothing twice, resolve, outage to the department, retries.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from analytics.alerts.run import process_run
from analytics.analysis.model import Detector, Finding, Status
from facmon.core.settings import Settings
from tests.conftest import TEST_NOW
from tests.integration.analytics.auditing import (
    COMM,
    GYM,
    LIB,
    REASONS,
    SMTP_PASSWORD,
    SMTP_USER,
    D,
    SmtpServer,
    Subscriber,
    alerts,
    directory,
    registry,
    run_of,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.servers


def test_raise_nothing_twice_resolve_and_outages(db, smtp_server, webhook, mosquitto):
    prefix = f"t{uuid.uuid4().hex[:8]}/v1"
    subscriber = Subscriber(mosquitto, f"{prefix}/alerts/#")
    settings = settings_for(db, smtp_server.url, mosquitto.url, prefix)
    found = directory(webhook.url())
    day1 = run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.NO_DATA})
    summary = process_run(day1, registry(), settings, client=db, directory=found)
    assert dict(summary.notices) == {"raised": 1, "outage": 1}
    assert (summary.sent, summary.failed) == (4, 0)

    ((to, mail),) = wait_for(smtp_server.mailbox.messages, 1)
    assert to == ["city@audit.example.org"]
    assert mail["Subject"] == f"[facmon] IDLE: 鹿城区图书馆五马分馆 ({LIB})"
    text = mail.get_body(("plain",)).get_content()
    for expected in ("Status: IDLE, as of 2025-11-03", "Window: 2025-10-06 to 2025-11-02 (28 days, Asia/Shanghai)",
                     "no use on 21 of 24 open days (87.5% ≥ 80%)", "mean occupancy 3.1% of capacity (< 10%)",
                     "Sensor coverage: 90.0% of opening hours", "department 鹿城区文广旅体局", "location 28.0, 120.65",
                     f"https://grafana.example/d/facility?var-facility={LIB}&time=2025-11-03",
                     f"SELECT * FROM \"facility_status\" WHERE \"facility\" = '{LIB}' AND time = "
                     "'2025-11-03T00:00:00.000000Z'"):
        assert expected in text, expected
    attached = [part for part in mail.iter_attachments() if part.get_content_type() == "application/json"]
    assert len(attached) == 1

    bodies = wait_for(webhook.received, 2)
    by_path = {path: body for path, _, body in webhook.requests}
    assert set(by_path) == {"/hook", "/street"}
    idle = by_path["/hook"]
    assert (idle["kind"], idle["status"], idle["facility"]["name"]) == ("raised", "IDLE", "鹿城区图书馆五马分馆")
    assert idle["reasons"] == list(REASONS[Status.IDLE])
    assert idle["evidence"]["influxdb"]["measurement"] == "facility_status"
    outage = by_path["/street"]
    assert (outage["kind"], outage["status"], outage["facility"]["id"]) == ("outage", "NO_DATA", COMM)
    assert "a sensor problem" in outage["reasons"][0]
    assert len(bodies) == 2  # the outage went to the department only, never to the auditors

    ((topic, payload, _),) = wait_for(lambda: subscriber.messages, 1)
    assert topic == f"{prefix}/alerts/{LIB}"
    assert payload["message"].startswith(f"IDLE: 鹿城区图书馆五马分馆 ({LIB}), 2025-10-06..2025-11-02: no use on 21")

    stored = {(a["facility"], a["kind"]): a for a in alerts(db)}
    assert set(stored) == {(LIB, "raised"), (COMM, "outage")}
    raised = stored[(LIB, "raised")]
    assert (raised["status"], raised["region"], raised["type"], raised["as_of"]) == (
        "IDLE", "zhejiang/wenzhou/lucheng", "library", "2025-11-03")
    assert (raised["recipients"], raised["delivered"], raised["failed"]) == ("city,district", 3, 0)
    assert raised["reasons"] == "; ".join(REASONS[Status.IDLE])
    assert stored[(COMM, "outage")]["recipients"] == "oh-street"

    # The same run again, and a later one with nothing changed: nothing new goes out or is recorded.
    again = process_run(day1, registry(), settings, client=db, directory=found)
    later = process_run(run_of(D + timedelta(days=3), {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.NO_DATA}),
                        registry(), settings, client=db, directory=found)
    assert (sum(again.notices.values()), sum(later.notices.values()), again.sent, later.sent) == (0, 0, 0, 0)
    assert len(alerts(db)) == 2

    day2 = run_of(D + timedelta(days=4), {LIB: Status.ACTIVE, GYM: Status.ACTIVE, COMM: Status.ACTIVE})
    summary = process_run(day2, registry(), settings, client=db, directory=found)
    assert dict(summary.notices) == {"resolved": 1, "outage_resolved": 1}
    mails = wait_for(smtp_server.mailbox.messages, 2)
    assert mails[1][1]["Subject"] == f"[facmon] Resolved, IDLE → ACTIVE: 鹿城区图书馆五马分馆 ({LIB})"
    bodies = wait_for(webhook.received, 4)
    assert sorted((b["kind"], b["facility"]["id"]) for b in bodies[2:]) == [("outage_resolved", COMM),
                                                                          ("resolved", LIB)]
    messages = wait_for(lambda: subscriber.messages, 2)
    assert messages[1][1]["kind"] == "resolved"
    subscriber.stop()
    retained = Subscriber(mosquitto, f"{prefix}/alerts/#")  # a late subscriber sees the latest alert, retained
    ((topic, payload, was_retained),) = wait_for(lambda: retained.messages, 1)
    retained.stop()
    assert (topic, payload["kind"], was_retained) == (f"{prefix}/alerts/{LIB}", "resolved", True)


def test_failed_delivery_is_logged_and_retried_on_the_next_run(db, smtp_server, webhook, mosquitto, caplog):
    caplog.set_level(logging.INFO, logger="analytics")
    settings = settings_for(db, smtp_server.url, mosquitto.url, "facmon/v1")
    found = directory(webhook.url(), mqtt=False)
    run = run_of(D, {LIB: Status.UNDERUSED, GYM: Status.ACTIVE, COMM: Status.ACTIVE})
    webhook.fail = 1
    first = process_run(run, registry(), settings, client=db, directory=found)
    assert (first.sent, first.failed) == (1, 1)
    assert "failed to send raised for wz-lc-lib-001 to district by webhook (attempt 1): HTTP 500" in caplog.text
    assert "will retry on the next run" in caplog.text
    assert webhook.received() == []
    ((alert,),) = [alerts(db)]
    assert (alert["delivered"], alert["failed"]) == (1, 1)

    second = process_run(run, registry(), settings, client=db, directory=found)
    assert (sum(second.notices.values()), second.sent, second.failed, second.retried) == (0, 1, 0, 1)
    (body,) = wait_for(webhook.received, 1)
    assert (body["kind"], body["status"], body["as_of"]) == ("raised", "UNDERUSED", "2025-11-03")
    ((alert,),) = [alerts(db)]
    assert (alert["delivered"], alert["failed"]) == (2, 0)  # the same point, rewritten
    assert len(smtp_server.mailbox.messages()) == 1  # the mail that went through is not sent again

    third = process_run(run, registry(), settings, client=db, directory=found)
    assert (third.sent, third.failed) == (0, 0)
    rows = db.query('SELECT * FROM "alert_delivery" WHERE "channel" = \'webhook\' ORDER BY time', epoch="ns")
    outcomes = [(r[rows[0]["series"][0]["columns"].index("outcome")]) for r in rows[0]["series"][0]["values"]]
    assert outcomes == ["queued", "failed", "sent"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # loopback only
def test_mail_server_down_then_with_login_and_no_secret_in_logs_or_records(db, mosquitto, caplog, webhook):
    caplog.set_level(logging.DEBUG)
    server = SmtpServer(auth=True)
    wrong = settings_for(db, f"smtp://{SMTP_USER}:wrong-pass@127.0.0.1:{server.port}", mosquitto.url, "facmon/v1")
    found = directory(webhook.url(), mqtt=False)
    run = run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE})
    down = process_run(run, registry(), wrong, client=db, directory=found)
    assert (down.sent, down.failed) == (1, 1)  # the webhook went out, the mail server was not there
    server.start()
    try:
        refused = process_run(run, registry(), wrong, client=db, directory=found)
        assert (refused.sent, refused.failed) == (0, 1)
        right = settings_for(db, f"smtp://127.0.0.1:{server.port}", mosquitto.url, "facmon/v1",
                             smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD)
        ok = process_run(run, registry(), right, client=db, directory=found)
        assert (ok.sent, ok.failed) == (1, 0)
        ((_, mail),) = wait_for(server.mailbox.messages, 1)
        assert mail["X-Facmon-Kind"] == "raised"
    finally:
        server.stop()
    errors = db.query('SELECT "error" FROM "alert_delivery"')[0]["series"][0]["values"]
    recorded = " ".join(str(value) for _, value in errors)
    assert "Connection refused" in recorded or "ConnectionRefusedError" in recorded
    assert "535" in recorded  # authentication failed, as the server said
    for secret in ("wrong-pass", SMTP_PASSWORD):
        assert secret not in caplog.text
        assert secret not in recorded


def keys(db, statement: str) -> dict[str, str]:
    series = db.query(statement)[0].get("series", [])
    return {values[0]: values[1] if len(values) > 1 else "" for values in series[0]["values"]} if series else {}


def test_the_stored_schema_is_the_documented_contract(db, smtp_server, webhook, mosquitto):
    settings = settings_for(db, smtp_server.url, mosquitto.url, f"t{uuid.uuid4().hex[:8]}/v1")
    suspect = {GYM: (Finding(Detector.CLONE, "same series as wz-lc-lib-001 on 20 of 24 open days"),)}
    run = run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.NO_DATA}, suspect)
    process_run(run, registry(), settings, client=db, directory=directory(webhook.url()))
    assert set(keys(db, 'SHOW TAG KEYS FROM "alert"')) == {"facility", "kind", "status", "region", "type"}
    assert keys(db, 'SHOW FIELD KEYS FROM "alert"') == {
        "as_of": "string", "message": "string", "reasons": "string", "recipients": "string",
        "delivered": "integer", "failed": "integer", "detectors": "string"}
    kinds = db.query('SHOW TAG VALUES FROM "alert" WITH KEY = "kind"')[0]["series"][0]["values"]
    assert {value for _, value in kinds} == {"raised", "outage", "integrity"}
    assert set(keys(db, 'SHOW TAG KEYS FROM "alert_delivery"')) == {"facility", "kind", "channel", "recipient",
                                                                    "outcome"}
    assert keys(db, 'SHOW FIELD KEYS FROM "alert_delivery"') == {
        "alert_time": "integer", "attempt": "integer", "as_of": "string", "target": "string", "error": "string",
        "payload": "string"}
    (decided,) = db.query('SELECT "as_of" FROM "alert" WHERE "kind" = \'raised\'', epoch="ns")[0]["series"][0][
        "values"]
    assert abs(decided[0] / 1e9 - settings.clock.time()) < 60  # time = the decision time, not the as-of date


def test_status_changes_and_reminders_are_read_back_across_series(db, smtp_server, webhook, mosquitto):
    """The status is a tag, so each change starts a new series: the latest per facility and kind must win."""
    settings = settings_for(db, smtp_server.url, mosquitto.url, "facmon/v1", reminder_days=14)
    found = directory(webhook.url(), mqtt=False)
    others = {GYM: Status.ACTIVE, COMM: Status.ACTIVE}
    steps = [(0, Status.IDLE, {"raised": 1}), (1, Status.UNDERUSED, {"raised": 1}), (2, Status.UNDERUSED, {}),
             (14, Status.UNDERUSED, {}), (15, Status.UNDERUSED, {"reminder": 1}), (16, Status.IDLE, {"raised": 1}),
             (17, Status.ACTIVE, {"resolved": 1}), (18, Status.ACTIVE, {})]
    for day, status, expected in steps:
        summary = process_run(run_of(D + timedelta(days=day), {LIB: status, **others}), registry(), settings,
                              client=db, directory=found)
        assert dict(summary.notices) == expected, (day, status)
    subjects = [mail["Subject"] for _, mail in wait_for(smtp_server.mailbox.messages, 5)]
    assert [s.removesuffix(f": 鹿城区图书馆五马分馆 ({LIB})") for s in subjects] == [
        "[facmon] IDLE", "[facmon] IDLE → UNDERUSED", "[facmon] Reminder: still UNDERUSED since 2025-11-04",
        "[facmon] UNDERUSED → IDLE", "[facmon] Resolved, IDLE → ACTIVE"]


def test_each_channel_reports_its_failure_without_secrets(db):
    from analytics.alerts.decide import Kind, Notice
    from analytics.alerts.deliver import Deliverer
    from analytics.alerts.message import payload
    from facmon.demo.localstack import free_port

    closed = free_port()
    settings = Settings(influx_url=db.url, influx_db=db.database, mqtt_url=f"mqtt://u:mq-s3cret@127.0.0.1:{closed}",
                        delivery_timeout=3)
    found = directory(f"http://127.0.0.1:{closed}/hook?token=hook-s3cret")
    result = run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}).facilities[0]
    data = payload(Notice(Kind.RAISED, result, D), None, [], None, TEST_NOW)
    deliverer = Deliverer(settings, found)
    try:
        mail = deliverer.send("email", "city", data)
        hook = deliverer.send("webhook", "district", data)
        mqtt = deliverer.send("mqtt", "*", data)
        gone = deliverer.send("email", "someone-removed", data)
    finally:
        deliverer.close()
    assert (mail.ok, mail.error) == (False, "no mail server configured (FACMON_SMTP_URL)")
    assert (hook.ok, hook.target) == (False, f"http://127.0.0.1:{closed}")
    assert "Connection refused" in hook.error or "ConnectionRefused" in hook.error
    assert (mqtt.ok, mqtt.target) == (False, f"facmon/v1/alerts/{LIB}")
    assert f"broker mqtt://u:***@127.0.0.1:{closed}" in mqtt.error
    assert (gone.ok, gone.error) == (False, "recipient 'someone-removed' is no longer in the auditors file")
    for outcome in (mail, hook, mqtt, gone):
        assert "s3cret" not in outcome.error + outcome.target
