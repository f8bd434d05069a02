"""Which notices a facility's new result calls for: pure decisions from the alert record, reviews and the date.

Three independent tracks per facility, each read back from the ``alert`` record in InfluxDB (so the job keeps no
local state):
- usage, for the auditors: IDLE or UNDERUSED raises an alert, a change between the two raises again, the same
  status reminds every ``reminder_days``, ACTIVE or EXEMPT resolves it. NO_DATA leaves it as it is: silence
  proves neither use nor idleness.
- outage, for the managing department: NO_DATA opens a sensor outage notice, any other status resolves it.
- integrity, for the auditors: data that became suspect raises a data-integrity alert, a detector that fires
  beyond those already alerted raises again, unchanged suspicion reminds every ``reminder_days``, and data no
  longer suspect resolves it, except under NO_DATA (too little data to clear anything). Independent of the
  status: an ACTIVE facility can have one, an IDLE one can have both.
An auditor's review with ``until`` holds back new auditor alerts (raised, reminder, on both auditor tracks) for
the facility until that day; one without ``until`` holds back reminders of the alerts open when it was recorded.
Days are counted between as-of dates, so a re-run for the same as-of decides the same and sends nothing twice,
and a run for an as-of older than the record decides nothing.

Failed deliveries are planned here too (``plan_retries``): the latest notice of each track is sent again on the
next run to every recipient and channel that has not yet received it, up to ``MAX_ATTEMPTS`` attempts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from analytics.analysis.model import FacilityResult, Status

MAX_ATTEMPTS = 10
RETRY_HORIZON_DAYS = 30
DAY_NS = 86400 * 10**9


class Kind(StrEnum):
    RAISED = "raised"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    OUTAGE = "outage"
    OUTAGE_RESOLVED = "outage_resolved"
    INTEGRITY = "integrity"
    INTEGRITY_REMINDER = "integrity_reminder"
    INTEGRITY_RESOLVED = "integrity_resolved"

    @property
    def track(self) -> str:
        """``usage`` and ``integrity`` (auditors) or ``outage`` (the managing department)."""
        if self in (Kind.OUTAGE, Kind.OUTAGE_RESOLVED):
            return "outage"
        if self in (Kind.INTEGRITY, Kind.INTEGRITY_REMINDER, Kind.INTEGRITY_RESOLVED):
            return "integrity"
        return "usage"

    @property
    def opens(self) -> bool:
        """True for the kinds that leave something open to resolve later."""
        return self in (Kind.RAISED, Kind.REMINDER, Kind.OUTAGE, Kind.INTEGRITY, Kind.INTEGRITY_REMINDER)


class Disposition(StrEnum):
    CONFIRMED = "confirmed"
    SEASONAL = "seasonal"
    REPURPOSED = "repurposed"
    SENSOR_FAULT = "sensor_fault"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One stored ``alert`` point: a notice decided at ``time_ns`` for the facility's result as of ``as_of``."""

    facility: str
    kind: Kind
    status: Status
    as_of: date
    time_ns: int
    region: str = ""
    type: str = ""
    message: str = ""
    reasons: str = ""
    recipients: tuple[str, ...] = ()
    delivered: int = 0
    failed: int = 0
    detectors: tuple[str, ...] = ()  # integrity track: the detectors the notice reported


@dataclass(frozen=True, slots=True)
class FacilityAlerts:
    """The latest record of each track for one facility (None: never alerted), and the latest raise of the
    usage and integrity tracks (reminders say since when)."""

    usage: AlertRecord | None = None
    outage: AlertRecord | None = None
    raised: AlertRecord | None = None
    integrity: AlertRecord | None = None
    integrity_raised: AlertRecord | None = None

    @property
    def latest(self) -> tuple[AlertRecord, ...]:
        """The latest record of each track that has one."""
        return tuple(r for r in (self.usage, self.outage, self.integrity) if r is not None)

    @property
    def latest_as_of(self) -> date | None:
        dates = [r.as_of for r in self.latest]
        return max(dates) if dates else None

    @staticmethod
    def from_records(records: Iterable[AlertRecord]) -> dict[str, FacilityAlerts]:
        """The latest record of each track and the latest raises per facility, from any number of records."""
        tables: dict[str, dict[str, AlertRecord]] = {
            name: {} for name in ("usage", "outage", "raised", "integrity", "integrity_raised")}
        for record in records:
            names = [record.kind.track]
            if record.kind is Kind.RAISED:
                names.append("raised")
            elif record.kind is Kind.INTEGRITY:
                names.append("integrity_raised")
            for name in names:
                held = tables[name].get(record.facility)
                if held is None or record.time_ns > held.time_ns:
                    tables[name][record.facility] = record
        facilities = {*tables["usage"], *tables["outage"], *tables["integrity"]}
        return {fid: FacilityAlerts(**{name: table.get(fid) for name, table in tables.items()}) for fid in facilities}


@dataclass(frozen=True, slots=True)
class Review:
    """An auditor's review of a facility, recorded at ``time_ns``."""

    facility: str
    disposition: Disposition
    note: str
    until: date | None
    reviewer: str
    time_ns: int


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice to send: ``kind`` for ``result``; ``previous`` is the status the track last reported."""

    kind: Kind
    result: FacilityResult
    as_of: date
    previous: Status | None = None
    since: date | None = None  # reminders: the as-of of the alert's first raise in this status
    previous_detectors: tuple[str, ...] = ()  # integrity raised again: the detectors the open alert reported


FLAGGED_USE = (Status.IDLE, Status.UNDERUSED)


def detector_names(result: FacilityResult) -> tuple[str, ...]:
    """The detectors that fired for the facility, each once, in the order of its findings."""
    return tuple(dict.fromkeys(detector.value for detector in result.integrity.detectors))


def holds_back(reviews: Sequence[Review], today: date) -> Review | None:
    """A review whose ``until`` has not passed: no new usage alert for its facility until then (inclusive)."""
    return next((r for r in reviews if r.until is not None and today <= r.until), None)


def _reviewed_since(reviews: Sequence[Review], opened: AlertRecord) -> bool:
    """A review without ``until`` recorded after the open alert acknowledges it: its reminders stop. (One with
    ``until`` holds alerts back until then only.)"""
    return any(r.until is None and r.time_ns >= opened.time_ns for r in reviews)


def _reminder_due(opened: AlertRecord, reviews: Sequence[Review], held: Review | None, today: date,
                  reminder_days: int) -> bool:
    return (today - opened.as_of).days >= reminder_days and held is None and not _reviewed_since(reviews, opened)


def _outage(state: FacilityAlerts, result: FacilityResult, today: date) -> list[Notice]:
    outage_open = state.outage is not None and state.outage.kind is Kind.OUTAGE
    if result.status is Status.NO_DATA and not outage_open:
        return [Notice(Kind.OUTAGE, result, today)]
    if result.status is not Status.NO_DATA and outage_open:
        return [Notice(Kind.OUTAGE_RESOLVED, result, today, previous=Status.NO_DATA)]
    return []


def _usage(state: FacilityAlerts, result: FacilityResult, reviews: Sequence[Review], held: Review | None,
           today: date, reminder_days: int) -> list[Notice]:
    status = result.status
    usage = state.usage
    open_usage = usage if usage is not None and usage.kind.opens else None
    if status in FLAGGED_USE:
        if open_usage is None or open_usage.status is not status:
            if held is None:
                previous = None if open_usage is None else open_usage.status
                return [Notice(Kind.RAISED, result, today, previous=previous)]
        elif _reminder_due(open_usage, reviews, held, today, reminder_days):
            raised = state.raised
            since = raised.as_of if raised is not None and raised.status is status else open_usage.as_of
            return [Notice(Kind.REMINDER, result, today, previous=status, since=since)]
    elif status in (Status.ACTIVE, Status.EXEMPT) and open_usage is not None:
        return [Notice(Kind.RESOLVED, result, today, previous=open_usage.status)]
    return []


def _integrity(state: FacilityAlerts, result: FacilityResult, reviews: Sequence[Review], held: Review | None,
               today: date, reminder_days: int) -> list[Notice]:
    record = state.integrity
    open_alert = record if record is not None and record.kind.opens else None
    if result.integrity.suspect:
        if open_alert is None:
            return [] if held is not None else [Notice(Kind.INTEGRITY, result, today)]
        # A record without detectors (written by hand, or damaged) cannot say what is new: never re-raise on it.
        new = [name for name in detector_names(result) if name not in open_alert.detectors]
        if new and open_alert.detectors:
            if held is not None:
                return []
            return [Notice(Kind.INTEGRITY, result, today, previous_detectors=open_alert.detectors)]
        if _reminder_due(open_alert, reviews, held, today, reminder_days):
            raised = state.integrity_raised
            since = raised.as_of if raised is not None else open_alert.as_of
            return [Notice(Kind.INTEGRITY_REMINDER, result, today, since=since)]
    elif open_alert is not None and result.status is not Status.NO_DATA:
        return [Notice(Kind.INTEGRITY_RESOLVED, result, today)]
    return []


def decide(
    state: FacilityAlerts,
    result: FacilityResult,
    reviews: Sequence[Review],
    today: date,
    reminder_days: int = 14,
) -> list[Notice]:
    """The notices that ``result`` (the facility's status and integrity as of ``today``) calls for, given the
    facility's record and its reviews: outage, then usage, then integrity."""
    if state.latest_as_of is not None and today < state.latest_as_of:
        return []  # an older as-of than the record: a back-fill, which must not re-alert
    held = holds_back(reviews, today)
    return [*_outage(state, result, today), *_usage(state, result, reviews, held, today, reminder_days),
            *_integrity(state, result, reviews, held, today, reminder_days)]


# -- retries ------------------------------------------------------------------------------------------------------
class Outcome(StrEnum):
    QUEUED = "queued"  # planned with the alert, before any attempt; carries the payload for retries
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One stored ``alert_delivery`` point: a planned delivery or one attempt at it."""

    facility: str
    kind: Kind
    channel: str
    recipient: str
    outcome: Outcome
    alert_time: int
    attempt: int = 0
    payload: str = ""
    time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Retry:
    """Send ``payload`` again over ``channel`` to ``recipient``: attempt number ``attempt`` for the alert."""

    alert: AlertRecord
    channel: str
    recipient: str
    attempt: int
    payload: str


def plan_retries(
    latest: Iterable[AlertRecord],
    deliveries: Iterable[DeliveryRecord],
    now_ns: int,
    superseded: Collection[tuple[str, str]] = (),
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Retry]:
    """Deliveries of the latest notices that were planned and never sent, with attempts left.

    ``latest`` holds the latest record of each (facility, track); ``superseded`` the (facility, track) pairs
    that get a new notice in this run, which makes the old one moot. Notices older than RETRY_HORIZON_DAYS are
    left alone.
    """
    by_alert: dict[tuple[str, int], list[DeliveryRecord]] = {}
    for record in deliveries:
        by_alert.setdefault((record.facility, record.alert_time), []).append(record)
    retries = []
    for alert in latest:
        if (alert.facility, alert.kind.track) in superseded or now_ns - alert.time_ns > RETRY_HORIZON_DAYS * DAY_NS:
            continue
        targets: dict[tuple[str, str], list[DeliveryRecord]] = {}
        for record in by_alert.get((alert.facility, alert.time_ns), []):
            targets.setdefault((record.channel, record.recipient), []).append(record)
        for (channel, recipient), records in sorted(targets.items()):
            if any(r.outcome is Outcome.SENT for r in records):
                continue
            queued = next((r for r in records if r.outcome is Outcome.QUEUED and r.payload), None)
            attempts = max((r.attempt for r in records if r.outcome is Outcome.FAILED), default=0)
            if queued is not None and attempts < max_attempts:
                retries.append(Retry(alert, channel, recipient, attempts + 1, queued.payload))
    return retries


def delivery_counts(records: Iterable[DeliveryRecord]) -> tuple[int, int]:
    """(delivered, failed) (channel, recipient) pairs of an alert: failed ones have failed and not been sent since."""
    sent: set[tuple[str, str]] = set()
    failed: set[tuple[str, str]] = set()
    for record in records:
        key = (record.channel, record.recipient)
        if record.outcome is Outcome.SENT:
            sent.add(key)
        elif record.outcome is Outcome.FAILED:
            failed.add(key)
    return len(sent), len(failed - sent)
