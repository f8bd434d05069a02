"""Data-integrity alerts end to end: runs whose results carry findings, a real SMTP server, a real webhook, the
real Mosquitto and InfluxDB. Beside the usage alerts, never instead of them: raise, nothing twice, a newly fired
detector, reminder, cleared, retries and reviews, all decided from what InfluxDB recorded."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from analytics.alerts import reviews
from analytics.alerts.decide import Disposition, Review
from analytics.alerts.run import process_run
from analytics.analysis.model import Detector, Finding, Status
from tests.integration.analytics.auditing import (
    COMM,
    GYM,
    LIB,
    REASONS,
    D,
    Subscriber,
    alerts,
    directory,
    registry,
    run_of,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.servers

FLAT = Finding(Detector.FLAT_LINE, "occupancy constant at 37 for 6 h 15 min on 12 open days",
               {"value": 37, "hours": 6.25, "days": 12})
COPY = Finding(Detector.COPIED_DAYS, "9 of 12 open days repeat another day's profile exactly", {"days": 9})
LIB_NAME = "鹿城区图书馆五马分馆"


def stored(db) -> dict[tuple[str, str], dict]:
    """The latest alert point per (facility, kind)."""
    return {(a["facility"], a["kind"]): a for a in alerts(db)}


def test_integrity_alerts_beside_usage_alerts_run_after_run(db, smtp_server, webhook, mosquitto):
    prefix = f"t{uuid.uuid4().hex[:8]}/v1"
    subscriber = Subscriber(mosquitto, f"{prefix}/alerts/#")
    settings = settings_for(db, smtp_server.url, mosquitto.url, prefix, reminder_days=14)
    found = directory(webhook.url())
    statuses = {LIB: Status.ACTIVE, GYM: Status.IDLE, COMM: Status.ACTIVE}

    first = process_run(run_of(D, statuses, {LIB: (FLAT,), GYM: (COPY,)}), registry(), settings, client=db,
                        directory=found)
    assert dict(first.notices) == {"raised": 1, "integrity": 2}
    assert (first.sent, first.failed) == (9, 0)  # 3 notices, each by mail, webhook and MQTT
    mails = wait_for(smtp_server.mailbox.messages, 3)
    subjects = sorted(mail["Subject"] for _, mail in mails)
    assert f"[facmon] Data integrity flag (flat_line): {LIB_NAME} ({LIB})" in subjects
    assert any(s.startswith("[facmon] IDLE: ") for s in subjects)
    text = next(m for _, m in mails if LIB in m["Subject"]).get_body(("plain",)).get_content()
    for expected in ("a flag for review, not proof", "Status: ACTIVE, as of 2025-11-03",
                     f"  - flat_line: {FLAT.reason}", "(value 37, hours 6.25, days 12)", "Why the status is ACTIVE:",
                     REASONS[Status.ACTIVE][0],
                     f"Readings: SELECT * FROM \"reading\" WHERE \"facility\" = '{LIB}'", "location 28.0, 120.65"):
        assert expected in text, expected
    bodies = {(b["facility"]["id"], b["kind"]): b for b in wait_for(webhook.received, 3)}
    assert set(bodies) == {(LIB, "integrity"), (GYM, "integrity"), (GYM, "raised")}
    lib = bodies[(LIB, "integrity")]
    assert (lib["status"], lib["reasons"], lib["integrity"]["detectors"]) == ("ACTIVE", [FLAT.reason], ["flat_line"])
    assert lib["integrity"]["findings"][0]["evidence"] == {"value": 37, "hours": 6.25, "days": 12}
    assert bodies[(GYM, "raised")]["reasons"] == list(REASONS[Status.IDLE])  # the usage alert is unchanged
    published = wait_for(lambda: subscriber.messages, 3)
    assert sorted((topic, body["kind"]) for topic, body, _ in published) == sorted([
        (f"{prefix}/alerts/{LIB}", "integrity"), (f"{prefix}/alerts/{GYM}", "integrity"),
        (f"{prefix}/alerts/{GYM}", "raised")])
    record = stored(db)[(LIB, "integrity")]
    assert (record["status"], record["detectors"], record["reasons"], record["recipients"], record["delivered"]) == (
        "ACTIVE", "flat_line", FLAT.reason, "city,district", 3)

    # Nothing twice: the same run, and a later one with the same findings.
    again = process_run(run_of(D, statuses, {LIB: (FLAT,), GYM: (COPY,)}), registry(), settings, client=db,
                        directory=found)
    assert (sum(again.notices.values()), again.sent) == (0, 0)

    # A detector fires that the open alert did not report: raised again, saying what is new.
    later = process_run(run_of(D + timedelta(days=3), statuses, {LIB: (FLAT, COPY), GYM: (COPY,)}), registry(),
                        settings, client=db, directory=found)
    assert dict(later.notices) == {"integrity": 1}
    assert wait_for(smtp_server.mailbox.messages, 4)[3][1]["Subject"] == (
        f"[facmon] Data integrity flag, now also copied_days: {LIB_NAME} ({LIB})")
    assert stored(db)[(LIB, "integrity")]["detectors"] == "flat_line,copied_days"

    # Two weeks on: LIB is reminded (counted from its last notice); GYM is used again and its data look honest.
    cleared = process_run(run_of(D + timedelta(days=17), {**statuses, GYM: Status.ACTIVE}, {LIB: (FLAT, COPY)}),
                          registry(), settings, client=db, directory=found)
    assert dict(cleared.notices) == {"integrity_reminder": 1, "resolved": 1, "integrity_resolved": 1}
    subjects = [mail["Subject"] for _, mail in wait_for(smtp_server.mailbox.messages, 7)[4:]]
    assert sorted(subjects) == sorted([
        f"[facmon] Reminder: data integrity flag still open since 2025-11-06 (flat_line, copied_days): "
        f"{LIB_NAME} ({LIB})",
        "[facmon] Resolved, IDLE → ACTIVE: 鹿城区全民健身中心 (wz-lc-gym-002)",
        "[facmon] Data integrity flag cleared: 鹿城区全民健身中心 (wz-lc-gym-002)"])
    subscriber.stop()
    latest = Subscriber(mosquitto, f"{prefix}/alerts/#")  # retained: each facility's latest notice
    retained = wait_for(lambda: latest.messages, 2)
    latest.stop()
    assert {topic: body["kind"] for topic, body, _ in retained} == {
        f"{prefix}/alerts/{LIB}": "integrity_reminder", f"{prefix}/alerts/{GYM}": "integrity_resolved"}


def test_failed_integrity_delivery_is_retried_and_a_review_holds_the_next(db, smtp_server, webhook, mosquitto,
                                                                          caplog):
    caplog.set_level(logging.INFO, logger="analytics")
    settings = settings_for(db, smtp_server.url, mosquitto.url, "facmon/v1")
    found = directory(webhook.url(), mqtt=False)
    statuses = {LIB: Status.ACTIVE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}
    webhook.fail = 1
    first = process_run(run_of(D, statuses, {LIB: (FLAT,)}), registry(), settings, client=db, directory=found)
    assert (dict(first.notices), first.sent, first.failed) == ({"integrity": 1}, 1, 1)
    assert f"failed to send integrity for {LIB} to district by webhook (attempt 1): HTTP 500" in caplog.text
    # The next run raises a usage alert for the same facility: the integrity retry still goes out, as it was.
    second = process_run(run_of(D + timedelta(days=1), {**statuses, LIB: Status.IDLE}, {LIB: (FLAT,)}), registry(),
                         settings, client=db, directory=found)
    assert (dict(second.notices), second.retried) == ({"raised": 1}, 1)
    kinds = sorted((body["kind"], body["as_of"]) for body in wait_for(webhook.received, 2))
    assert kinds == [("integrity", "2025-11-03"), ("raised", "2025-11-04")]
    assert (stored(db)[(LIB, "integrity")]["delivered"], stored(db)[(LIB, "integrity")]["failed"]) == (2, 0)

    # A review with --until holds back the integrity alerts of the facility; clearing is still said.
    cleared = process_run(run_of(D + timedelta(days=2), statuses), registry(), settings, client=db, directory=found)
    assert dict(cleared.notices) == {"resolved": 1, "integrity_resolved": 1}
    until = D + timedelta(days=10)
    reviews.record(db, Review(LIB, Disposition.SENSOR_FAULT, "sensor stuck, replaced", until, "auditor", 1))
    held = process_run(run_of(until, statuses, {LIB: (FLAT,)}), registry(), settings, client=db, directory=found)
    after = process_run(run_of(until + timedelta(days=1), statuses, {LIB: (FLAT,)}), registry(), settings,
                        client=db, directory=found)
    assert (dict(held.notices), dict(after.notices)) == ({}, {"integrity": 1})
