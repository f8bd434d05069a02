"""Data-integrity alerts: their own track beside the usage and outage ones, with the same dedup, reminders,
reviews and retries; what their record keeps; and what the notice tells an auditor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.alerts.auditors import parse_auditors
from analytics.alerts.decide import (
    DAY_NS,
    AlertRecord,
    DeliveryRecord,
    Disposition,
    FacilityAlerts,
    Kind,
    Notice,
    Outcome,
    Review,
    decide,
    plan_retries,
)
from analytics.alerts.message import CAVEAT, mail_text, payload, subject
from analytics.alerts.run import recipients_for
from analytics.alerts.store import alert_line, alert_record
from analytics.analysis.model import Detector, FacilityResult, Figures, Finding, Integrity, Status, Window

TODAY = date(2025, 11, 3)
T0 = 1_760_000_000 * 10**9
FLAT = Finding(Detector.FLAT_LINE, "occupancy constant at 37 for 6 h 15 min on 12 open days",
               {"value": 37, "hours": 6.25, "days": 12})
COPY = Finding(Detector.COPIED_DAYS, "9 of 12 open days repeat another day's profile exactly", {"days": 9})


def result(status: Status = Status.ACTIVE, *findings: Finding) -> FacilityResult:
    window = Window(date(2025, 10, 6), date(2025, 11, 2), "Asia/Shanghai")
    reasons = {Status.ACTIVE: ("mean occupancy 31% of capacity (≥ 10%)",),
               Status.IDLE: ("no use on 20 of 24 open days (83% ≥ 80%)",)}.get(status, ("other",))
    return FacilityResult("lib-1", "鹿城区图书馆", "library", "zhejiang/wenzhou/lucheng", "Culture bureau", 120, status,
                          Figures(coverage=0.9, occupancy_rate=0.31), window, reasons,
                          integrity=Integrity(tuple(findings)))


def record(kind: Kind, as_of: date = TODAY - timedelta(days=1), time_ns: int = T0,
           detectors: tuple[str, ...] = ("flat_line",), status: Status = Status.ACTIVE) -> AlertRecord:
    return AlertRecord("lib-1", kind, status, as_of, time_ns, "zhejiang/wenzhou/lucheng", "library",
                       detectors=detectors if kind.track == "integrity" else ())


def state(*records: AlertRecord) -> FacilityAlerts:
    return FacilityAlerts.from_records(records).get("lib-1", FacilityAlerts())


def kinds(notices: list[Notice]) -> list[Kind]:
    return [n.kind for n in notices]


def review(until: date | None, time_ns: int = T0 + 1) -> Review:
    return Review("lib-1", Disposition.SENSOR_FAULT, "sensor replaced", until, "auditor", time_ns)


# -- decisions ---------------------------------------------------------------------------------------------------
def test_active_facility_with_suspect_data_raises_an_integrity_alert():
    assert kinds(decide(FacilityAlerts(), result(Status.ACTIVE, FLAT), [], TODAY)) == [Kind.INTEGRITY]
    assert decide(FacilityAlerts(), result(Status.ACTIVE), [], TODAY) == []


def test_idle_and_suspect_raise_two_independent_alerts():
    assert kinds(decide(FacilityAlerts(), result(Status.IDLE, FLAT), [], TODAY)) == [Kind.RAISED, Kind.INTEGRITY]
    # The usage alert open does not stop the integrity one, nor the other way round.
    assert kinds(decide(state(record(Kind.RAISED, status=Status.IDLE)), result(Status.IDLE, FLAT), [], TODAY)) \
        == [Kind.INTEGRITY]
    assert kinds(decide(state(record(Kind.INTEGRITY)), result(Status.IDLE, FLAT), [], TODAY)) == [Kind.RAISED]


def test_unchanged_suspicion_sends_nothing_until_the_reminder():
    raised = record(Kind.INTEGRITY, as_of=TODAY - timedelta(days=13))
    assert decide(state(raised), result(Status.ACTIVE, FLAT), [], TODAY) == []
    notices = decide(state(raised), result(Status.ACTIVE, FLAT), [], TODAY + timedelta(days=1))
    assert kinds(notices) == [Kind.INTEGRITY_REMINDER]
    assert notices[0].since == raised.as_of
    reminded = record(Kind.INTEGRITY_REMINDER, as_of=TODAY, time_ns=T0 + 14 * DAY_NS)
    later = decide(state(raised, reminded), result(Status.ACTIVE, FLAT), [], TODAY + timedelta(days=14))
    assert [(n.kind, n.since) for n in later] == [(Kind.INTEGRITY_REMINDER, raised.as_of)]
    assert decide(state(raised, reminded), result(Status.ACTIVE, FLAT), [], TODAY + timedelta(days=13)) == []


def test_a_newly_fired_detector_raises_again_and_a_dropped_one_does_not():
    opened = record(Kind.INTEGRITY, detectors=("flat_line",))
    notices = decide(state(opened), result(Status.ACTIVE, FLAT, COPY), [], TODAY)
    assert [(n.kind, n.previous_detectors) for n in notices] == [(Kind.INTEGRITY, ("flat_line",))]
    both = record(Kind.INTEGRITY, detectors=("flat_line", "copied_days"))
    assert decide(state(both), result(Status.ACTIVE, COPY), [], TODAY) == []


def test_a_record_without_detectors_never_re_raises():
    assert decide(state(record(Kind.INTEGRITY, detectors=())), result(Status.ACTIVE, FLAT, COPY), [], TODAY) == []


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.IDLE, Status.UNDERUSED, Status.EXEMPT])
def test_data_no_longer_suspect_resolves_whatever_the_status(status):
    assert Kind.INTEGRITY_RESOLVED in kinds(decide(state(record(Kind.INTEGRITY_REMINDER)), result(status), [], TODAY))


def test_no_data_neither_resolves_nor_reminds_but_a_finding_still_raises():
    opened = record(Kind.INTEGRITY, as_of=TODAY - timedelta(days=30))
    assert kinds(decide(state(opened), result(Status.NO_DATA), [], TODAY)) == [Kind.OUTAGE]
    assert kinds(decide(FacilityAlerts(), result(Status.NO_DATA, FLAT), [], TODAY)) == [Kind.OUTAGE, Kind.INTEGRITY]


def test_after_it_was_cleared_a_new_suspicion_raises_again():
    cleared = state(record(Kind.INTEGRITY, time_ns=T0), record(Kind.INTEGRITY_RESOLVED, time_ns=T0 + 1, detectors=()))
    assert decide(cleared, result(Status.ACTIVE), [], TODAY) == []
    assert [(n.kind, n.previous_detectors) for n in decide(cleared, result(Status.ACTIVE, FLAT), [], TODAY)] == [
        (Kind.INTEGRITY, ())]


def test_resolving_the_usage_alert_leaves_the_integrity_alert_open():
    both = state(record(Kind.RAISED, status=Status.IDLE, time_ns=T0), record(Kind.INTEGRITY, time_ns=T0 + 1))
    assert kinds(decide(both, result(Status.ACTIVE, FLAT), [], TODAY)) == [Kind.RESOLVED]


def test_an_integrity_record_newer_than_the_as_of_stops_a_back_fill():
    assert decide(state(record(Kind.INTEGRITY, as_of=TODAY)), result(Status.IDLE), [], TODAY - timedelta(days=2)) == []


def test_review_until_holds_back_integrity_alerts_but_not_their_resolution():
    held = [review(until=TODAY + timedelta(days=5))]
    assert decide(FacilityAlerts(), result(Status.ACTIVE, FLAT), held, TODAY) == []
    old = record(Kind.INTEGRITY, as_of=TODAY - timedelta(days=30))
    assert decide(state(old), result(Status.ACTIVE, FLAT, COPY), held, TODAY) == []
    assert decide(state(old), result(Status.ACTIVE, FLAT), held, TODAY) == []
    assert kinds(decide(state(old), result(Status.ACTIVE), held, TODAY)) == [Kind.INTEGRITY_RESOLVED]
    assert kinds(decide(FacilityAlerts(), result(Status.ACTIVE, FLAT), held, TODAY + timedelta(days=6))) == [
        Kind.INTEGRITY]


def test_review_without_until_stops_the_reminders_of_the_open_integrity_alert():
    opened = record(Kind.INTEGRITY, as_of=TODAY - timedelta(days=20), time_ns=T0)
    assert decide(state(opened), result(Status.ACTIVE, FLAT), [review(None, T0 + DAY_NS)], TODAY) == []
    assert kinds(decide(state(opened), result(Status.ACTIVE, FLAT), [review(None, T0 - DAY_NS)], TODAY)) == [
        Kind.INTEGRITY_REMINDER]


def test_latest_record_per_track_and_latest_integrity_raise():
    records = [record(Kind.RAISED, status=Status.IDLE, time_ns=T0 + 9), record(Kind.INTEGRITY, time_ns=T0),
               record(Kind.INTEGRITY_REMINDER, time_ns=T0 + 5), record(Kind.OUTAGE, status=Status.NO_DATA)]
    got = FacilityAlerts.from_records(records)["lib-1"]
    assert (got.usage.kind, got.integrity.kind, got.integrity_raised.time_ns) == (
        Kind.RAISED, Kind.INTEGRITY_REMINDER, T0)
    assert {r.kind for r in got.latest} == {Kind.RAISED, Kind.INTEGRITY_REMINDER, Kind.OUTAGE}


def test_a_new_usage_notice_does_not_supersede_an_integrity_retry():
    opened = record(Kind.INTEGRITY)
    known = [DeliveryRecord("lib-1", Kind.INTEGRITY, "email", "aud", Outcome.QUEUED, T0, 0, "{}"),
             DeliveryRecord("lib-1", Kind.INTEGRITY, "email", "aud", Outcome.FAILED, T0, 1)]
    assert [r.attempt for r in plan_retries([opened], known, T0 + DAY_NS, superseded={("lib-1", "usage")})] == [2]
    assert plan_retries([opened], known, T0 + DAY_NS, superseded={("lib-1", "integrity")}) == []


# -- the record --------------------------------------------------------------------------------------------------
def test_integrity_alerts_record_their_detectors_and_read_them_back():
    opened = record(Kind.INTEGRITY, detectors=("flat_line", "copied_days"))
    text = alert_line(opened)
    assert text.startswith("alert,facility=lib-1,kind=integrity,region=zhejiang/wenzhou/lucheng,status=ACTIVE,")
    assert 'detectors="flat_line,copied_days"' in text
    assert "detectors=" not in alert_line(record(Kind.RAISED, status=Status.IDLE))
    row = {"facility": "lib-1", "kind": "integrity", "status": "ACTIVE", "as_of": "2025-11-02", "time": T0,
           "detectors": "flat_line,copied_days"}
    assert alert_record(row).detectors == ("flat_line", "copied_days")
    assert alert_record({**row, "detectors": None}).detectors == ()


# -- the notice --------------------------------------------------------------------------------------------------
def notice_data(notice: Notice) -> dict:
    return payload(notice, None, [{"id": "city", "name": "City"}], "https://grafana.example/d/x",
                   datetime(2025, 11, 3, 1, tzinfo=UTC))


def test_integrity_notices_go_to_the_regions_auditors():
    found = parse_auditors({
        "auditors": [{"id": "city", "name": "City", "regions": ["zhejiang/wenzhou"], "mqtt": True}],
        "departments": {"Culture bureau": {"id": "culture", "mqtt": True}}})
    notice = Notice(Kind.INTEGRITY, result(Status.NO_DATA, FLAT), TODAY)
    assert [r.id for r in recipients_for(notice, found)] == ["city"]


def test_the_payload_carries_findings_evidence_status_and_the_caveat():
    data = notice_data(Notice(Kind.INTEGRITY, result(Status.ACTIVE, FLAT, COPY), TODAY))
    assert (data["kind"], data["status"]) == ("integrity", "ACTIVE")
    assert data["reasons"] == [FLAT.reason, COPY.reason]
    assert data["status_reasons"] == ["mean occupancy 31% of capacity (≥ 10%)"]
    assert data["integrity"] == {
        "suspect": True, "detectors": ["flat_line", "copied_days"], "previous_detectors": None,
        "findings": [{"detector": "flat_line", "reason": FLAT.reason, "evidence": {"value": 37, "hours": 6.25,
                                                                                  "days": 12}},
                     {"detector": "copied_days", "reason": COPY.reason, "evidence": {"days": 9}}]}
    assert data["caveat"] == CAVEAT
    assert "not proof" in CAVEAT
    assert data["review"].startswith("facmon review lib-1 ")
    # the readings over the window's local days (Asia/Shanghai, UTC+8)
    assert data["evidence"]["influxdb"]["readings_query"] == (
        "SELECT * FROM \"reading\" WHERE \"facility\" = 'lib-1' AND time >= '2025-10-05T16:00:00.000000Z' "
        "AND time < '2025-11-02T16:00:00.000000Z'")
    assert data["message"] == (f"Data integrity flag (flat_line, copied_days): 鹿城区图书馆 (lib-1), "
                               f"2025-10-06..2025-11-02: {FLAT.reason}")
    text = mail_text(data)
    for expected in (CAVEAT, "Status: ACTIVE, as of 2025-11-03", f"  - flat_line: {FLAT.reason}",
                     "      (value 37, hours 6.25, days 12)", f"  - copied_days: {COPY.reason}",
                     "Why the status is ACTIVE:", "  - mean occupancy 31% of capacity (≥ 10%)",
                     "  Readings: SELECT * FROM \"reading\"", "facmon review lib-1 --disposition",
                     "department Culture bureau"):
        assert expected in text, expected


def test_usage_notices_keep_the_status_reasons_and_mention_a_suspicion():
    data = notice_data(Notice(Kind.RAISED, result(Status.IDLE, FLAT), TODAY))
    assert data["reasons"] == ["no use on 20 of 24 open days (83% ≥ 80%)"]
    assert "caveat" not in data
    assert "readings_query" not in data["evidence"]["influxdb"]
    assert data["integrity"]["detectors"] == ["flat_line"]
    assert "flagged as suspect (flat_line)" in mail_text(data)
    assert "suspect" not in mail_text(notice_data(Notice(Kind.RAISED, result(Status.IDLE), TODAY)))


@pytest.mark.parametrize(("notice", "start"), [
    (Notice(Kind.INTEGRITY, result(Status.ACTIVE, FLAT, COPY), TODAY, previous_detectors=("flat_line",)),
     "Data integrity flag, now also copied_days: "),
    (Notice(Kind.INTEGRITY_REMINDER, result(Status.IDLE, FLAT), TODAY, since=date(2025, 10, 1)),
     "Reminder: data integrity flag still open since 2025-10-01 (flat_line): "),
    (Notice(Kind.INTEGRITY_RESOLVED, result(Status.ACTIVE), TODAY), "Data integrity flag cleared: "),
])
def test_integrity_headlines(notice, start):
    data = notice_data(notice)
    assert subject(data) == f"[facmon] {start}鹿城区图书馆 (lib-1)"


def test_the_cleared_notice_says_no_check_fires_any_more():
    data = notice_data(Notice(Kind.INTEGRITY_RESOLVED, result(Status.ACTIVE), TODAY))
    assert data["reasons"] == []
    assert data["message"] == "Data integrity flag cleared: 鹿城区图书馆 (lib-1), 2025-10-06..2025-11-02"
    assert "Integrity checks: none fire any more." in mail_text(data)
