"""The pure alert decisions: every transition, reminders, reviews, back-fills, and retries of failed deliveries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from analytics.alerts.decide import (
    DAY_NS,
    MAX_ATTEMPTS,
    AlertRecord,
    DeliveryRecord,
    Disposition,
    FacilityAlerts,
    Kind,
    Outcome,
    Review,
    decide,
    delivery_counts,
    plan_retries,
)
from analytics.analysis.model import FacilityResult, Figures, Status, Window

TODAY = date(2025, 11, 3)
T0 = 1_760_000_000 * 10**9  # a decision time


def result(status: Status, fid: str = "lib-1") -> FacilityResult:
    window = Window(TODAY - timedelta(days=28), TODAY - timedelta(days=1), "Asia/Shanghai")
    reasons = {Status.IDLE: ("no use on 20 of 24 open days (83% ≥ 80%)",),
               Status.UNDERUSED: ("mean occupancy 4% of capacity (< 10%)",)}.get(status, ("fine",))
    return FacilityResult(fid, "Library", "library", "zhejiang/wenzhou", "Culture bureau", 100, status,
                          Figures(coverage=0.9), window, reasons)


def record(kind: Kind, status: Status, as_of: date = TODAY - timedelta(days=1), time_ns: int = T0,
           fid: str = "lib-1", recipients: tuple[str, ...] = ("aud-1",)) -> AlertRecord:
    return AlertRecord(fid, kind, status, as_of, time_ns, "zhejiang/wenzhou", "library", recipients=recipients)


def state(*records: AlertRecord) -> FacilityAlerts:
    return FacilityAlerts.from_records(records).get("lib-1", FacilityAlerts())


def kinds(notices: list) -> list[tuple[Kind, Status | None]]:
    return [(n.kind, n.previous) for n in notices]


def review(until: date | None, time_ns: int = T0 + 1, disposition: Disposition = Disposition.SEASONAL) -> Review:
    return Review("lib-1", disposition, "closed for the summer", until, "auditor", time_ns)


# -- transitions -------------------------------------------------------------------------------------------------
def test_first_result_active_sends_nothing():
    assert decide(FacilityAlerts(), result(Status.ACTIVE), [], TODAY) == []


@pytest.mark.parametrize("status", [Status.IDLE, Status.UNDERUSED])
def test_active_to_flagged_raises(status):
    notices = decide(FacilityAlerts(), result(status), [], TODAY)
    assert kinds(notices) == [(Kind.RAISED, None)]
    assert notices[0].as_of == TODAY


def test_after_a_resolved_alert_a_new_idle_raises_again():
    notices = decide(state(record(Kind.RAISED, Status.IDLE, time_ns=T0), record(Kind.RESOLVED, Status.ACTIVE,
                                                                                  time_ns=T0 + DAY_NS)),
                     result(Status.IDLE), [], TODAY)
    assert kinds(notices) == [(Kind.RAISED, None)]


def test_idle_to_idle_is_a_no_op():
    assert decide(state(record(Kind.RAISED, Status.IDLE)), result(Status.IDLE), [], TODAY) == []


def test_reminder_after_the_configured_days_and_not_before():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=14))
    notices = decide(state(raised), result(Status.IDLE), [], TODAY)
    assert kinds(notices) == [(Kind.REMINDER, Status.IDLE)]
    assert notices[0].since == raised.as_of
    early = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=13))
    assert decide(state(early), result(Status.IDLE), [], TODAY) == []
    assert kinds(decide(state(early), result(Status.IDLE), [], TODAY, reminder_days=7)) == [(Kind.REMINDER,
                                                                                               Status.IDLE)]


def test_reminders_count_from_the_last_reminder_but_say_since_the_raise():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=30), time_ns=T0)
    reminded = record(Kind.REMINDER, Status.IDLE, as_of=TODAY - timedelta(days=16), time_ns=T0 + 14 * DAY_NS)
    notices = decide(state(raised, reminded), result(Status.IDLE), [], TODAY)
    assert kinds(notices) == [(Kind.REMINDER, Status.IDLE)]
    assert notices[0].since == raised.as_of
    recent = record(Kind.REMINDER, Status.IDLE, as_of=TODAY - timedelta(days=2), time_ns=T0 + 28 * DAY_NS)
    assert decide(state(raised, recent), result(Status.IDLE), [], TODAY) == []


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.EXEMPT])
def test_idle_to_active_or_exempt_resolves(status):
    notices = decide(state(record(Kind.REMINDER, Status.IDLE)), result(status), [], TODAY)
    assert kinds(notices) == [(Kind.RESOLVED, Status.IDLE)]


def test_resolved_to_active_is_a_no_op():
    assert decide(state(record(Kind.RESOLVED, Status.ACTIVE)), result(Status.ACTIVE), [], TODAY) == []


def test_idle_to_underused_raises_the_change():
    notices = decide(state(record(Kind.RAISED, Status.IDLE)), result(Status.UNDERUSED), [], TODAY)
    assert kinds(notices) == [(Kind.RAISED, Status.IDLE)]


def test_active_to_no_data_is_an_outage_never_an_idle_alert():
    notices = decide(FacilityAlerts(), result(Status.NO_DATA), [], TODAY)
    assert kinds(notices) == [(Kind.OUTAGE, None)]


def test_no_data_to_no_data_is_a_no_op_even_after_weeks():
    outage = record(Kind.OUTAGE, Status.NO_DATA, as_of=TODAY - timedelta(days=60))
    assert decide(state(outage), result(Status.NO_DATA), [], TODAY) == []


def test_no_data_to_active_resolves_the_outage():
    notices = decide(state(record(Kind.OUTAGE, Status.NO_DATA)), result(Status.ACTIVE), [], TODAY)
    assert kinds(notices) == [(Kind.OUTAGE_RESOLVED, Status.NO_DATA)]


def test_idle_then_no_data_keeps_the_idle_alert_open_and_reports_the_outage():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=20), time_ns=T0)
    notices = decide(state(raised), result(Status.NO_DATA), [], TODAY)
    assert kinds(notices) == [(Kind.OUTAGE, None)]  # no reminder while the sensors are silent, no resolve
    outage = record(Kind.OUTAGE, Status.NO_DATA, as_of=TODAY - timedelta(days=1), time_ns=T0 + DAY_NS)
    back = decide(state(raised, outage), result(Status.ACTIVE), [], TODAY)
    assert kinds(back) == [(Kind.OUTAGE_RESOLVED, Status.NO_DATA), (Kind.RESOLVED, Status.IDLE)]


def test_no_data_to_idle_resolves_the_outage_and_raises():
    notices = decide(state(record(Kind.OUTAGE, Status.NO_DATA)), result(Status.IDLE), [], TODAY)
    assert kinds(notices) == [(Kind.OUTAGE_RESOLVED, Status.NO_DATA), (Kind.RAISED, None)]


def test_rerun_of_the_same_as_of_sends_nothing_again():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY)
    assert decide(state(raised), result(Status.IDLE), [], TODAY, reminder_days=1) == []


def test_an_as_of_older_than_the_record_decides_nothing():
    resolved = record(Kind.RESOLVED, Status.ACTIVE, as_of=TODAY)
    assert decide(state(resolved), result(Status.IDLE), [], TODAY - timedelta(days=3)) == []


# -- reviews -----------------------------------------------------------------------------------------------------
def test_review_until_holds_back_new_alerts_until_that_day_inclusive():
    held = [review(until=TODAY + timedelta(days=10))]
    assert decide(FacilityAlerts(), result(Status.IDLE), held, TODAY) == []
    assert decide(FacilityAlerts(), result(Status.IDLE), held, TODAY + timedelta(days=10)) == []
    after = decide(FacilityAlerts(), result(Status.IDLE), held, TODAY + timedelta(days=11))
    assert kinds(after) == [(Kind.RAISED, None)]


def test_review_until_holds_back_reminders_and_changes_but_not_outages():
    held = [review(until=TODAY + timedelta(days=1))]
    old = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=30))
    assert decide(state(old), result(Status.IDLE), held, TODAY) == []
    assert decide(state(old), result(Status.UNDERUSED), held, TODAY) == []
    assert kinds(decide(state(old), result(Status.NO_DATA), held, TODAY)) == [(Kind.OUTAGE, None)]


def test_resolved_still_follows_during_a_review():
    held = [review(until=TODAY + timedelta(days=30))]
    notices = decide(state(record(Kind.RAISED, Status.IDLE)), result(Status.ACTIVE), held, TODAY)
    assert kinds(notices) == [(Kind.RESOLVED, Status.IDLE)]


def test_review_without_until_stops_reminders_of_the_open_alert_only():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=20), time_ns=T0)
    acknowledged = [review(until=None, time_ns=T0 + DAY_NS, disposition=Disposition.CONFIRMED)]
    assert decide(state(raised), result(Status.IDLE), acknowledged, TODAY) == []
    assert kinds(decide(state(raised), result(Status.UNDERUSED), acknowledged, TODAY)) == [(Kind.RAISED,
                                                                                             Status.IDLE)]
    older = [review(until=None, time_ns=T0 - DAY_NS)]  # a review of an earlier alert
    assert kinds(decide(state(raised), result(Status.IDLE), older, TODAY)) == [(Kind.REMINDER, Status.IDLE)]


def test_expired_review_until_lets_reminders_through():
    raised = record(Kind.RAISED, Status.IDLE, as_of=TODAY - timedelta(days=40), time_ns=T0)
    expired = [review(until=TODAY - timedelta(days=1), time_ns=T0 + DAY_NS)]
    assert kinds(decide(state(raised), result(Status.IDLE), expired, TODAY)) == [(Kind.REMINDER, Status.IDLE)]


# -- retries -----------------------------------------------------------------------------------------------------
def delivery(outcome: Outcome, channel: str = "email", recipient: str = "aud-1", attempt: int = 0,
             alert_time: int = T0, payload: str = "") -> DeliveryRecord:
    if outcome is Outcome.QUEUED and not payload:
        payload = '{"kind": "raised"}'
    return DeliveryRecord("lib-1", Kind.RAISED, channel, recipient, outcome, alert_time, attempt, payload)


def test_failed_delivery_is_retried_with_the_stored_payload():
    alert = record(Kind.RAISED, Status.IDLE)
    known = [delivery(Outcome.QUEUED), delivery(Outcome.FAILED, attempt=1),
             delivery(Outcome.QUEUED, channel="webhook"), delivery(Outcome.SENT, channel="webhook", attempt=1)]
    retries = plan_retries([alert], known, T0 + DAY_NS)
    assert [(r.channel, r.recipient, r.attempt, r.payload) for r in retries] == [
        ("email", "aud-1", 2, '{"kind": "raised"}')]
    assert delivery_counts(known) == (1, 1)


def test_delivery_sent_on_a_retry_is_not_sent_again():
    known = [delivery(Outcome.QUEUED), delivery(Outcome.FAILED, attempt=1), delivery(Outcome.SENT, attempt=2)]
    assert plan_retries([record(Kind.RAISED, Status.IDLE)], known, T0 + DAY_NS) == []
    assert delivery_counts(known) == (1, 0)


def test_queued_delivery_never_attempted_is_sent():
    retries = plan_retries([record(Kind.RAISED, Status.IDLE)], [delivery(Outcome.QUEUED)], T0 + 1)
    assert [(r.channel, r.attempt) for r in retries] == [("email", 1)]


def test_retries_stop_after_the_maximum_attempts():
    known = [delivery(Outcome.QUEUED), *(delivery(Outcome.FAILED, attempt=n) for n in range(1, MAX_ATTEMPTS + 1))]
    assert plan_retries([record(Kind.RAISED, Status.IDLE)], known, T0 + DAY_NS) == []


def test_no_retry_of_a_superseded_or_old_alert_or_of_another_alert():
    alert = record(Kind.RAISED, Status.IDLE)
    known = [delivery(Outcome.QUEUED), delivery(Outcome.FAILED, attempt=1)]
    assert plan_retries([alert], known, T0 + DAY_NS, superseded={("lib-1", "usage")}) == []
    assert plan_retries([alert], known, T0 + 31 * DAY_NS) == []
    other = [delivery(Outcome.QUEUED, alert_time=T0 - 5), delivery(Outcome.FAILED, attempt=1, alert_time=T0 - 5)]
    assert plan_retries([alert], other, T0 + DAY_NS) == []


def test_outage_retry_is_not_superseded_by_a_usage_notice():
    outage = AlertRecord("lib-1", Kind.OUTAGE, Status.NO_DATA, TODAY, T0)
    known = [DeliveryRecord("lib-1", Kind.OUTAGE, "webhook", "dept", Outcome.QUEUED, T0, 0, "{}"),
             DeliveryRecord("lib-1", Kind.OUTAGE, "webhook", "dept", Outcome.FAILED, T0, 1)]
    retries = plan_retries([outage], known, T0 + DAY_NS, superseded={("lib-1", "usage")})
    assert [(r.channel, r.recipient, r.attempt) for r in retries] == [("webhook", "dept", 2)]


def test_latest_record_per_track_wins():
    records = [record(Kind.RAISED, Status.IDLE, time_ns=T0), record(Kind.RESOLVED, Status.ACTIVE, time_ns=T0 + 5),
               record(Kind.OUTAGE, Status.NO_DATA, time_ns=T0 + 1)]
    got = FacilityAlerts.from_records(reversed(records))["lib-1"]
    assert (got.usage.kind, got.outage.kind, got.raised.kind) == (Kind.RESOLVED, Kind.OUTAGE, Kind.RAISED)
