"""After each analysis run: decide the notices, record them, deliver them, retry earlier failures.

Order matters for at-least-once without duplicates: each new alert and its planned deliveries (with the notice's
JSON) are written to InfluxDB before anything is sent, so a crash mid-run leaves queued deliveries that the next
run sends, and an InfluxDB that cannot record them means nothing is sent (the next run decides again). Then every
attempt is recorded and the alert points are rewritten with their delivered/failed counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import orjson

from analytics.alerts import reviews
from analytics.alerts import store as alert_store
from analytics.alerts.auditors import AuditorsError, Directory, Recipient, load_auditors
from analytics.alerts.decide import (
    DAY_NS,
    MAX_ATTEMPTS,
    RETRY_HORIZON_DAYS,
    AlertRecord,
    DeliveryRecord,
    FacilityAlerts,
    Notice,
    Outcome,
    Review,
    decide,
    delivery_counts,
    detector_names,
    plan_retries,
)
from analytics.alerts.deliver import MQTT_RECIPIENT, Deliverer, Sent
from analytics.alerts.message import notice_reasons, payload
from analytics.analysis.model import AnalysisRun
from facmon.core.clock import Clock
from facmon.core.i18n import LANGUAGES
from facmon.core.influx import InfluxClient, InfluxError
from facmon.core.settings import Settings
from sensors.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What process_run did, for logs and tests."""

    notices: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unaddressed: list[str] = field(default_factory=list)
    error: str = ""


def recipients_for(notice: Notice, directory: Directory) -> list[Recipient]:
    """Auditors of the facility's region for usage and integrity notices; its managing department for outage
    notices."""
    result = notice.result
    if notice.kind.track == "outage":
        department = directory.department(result.department)
        return [department] if department is not None else []
    return list(directory.auditors_for(result.region))


def planned(recipients: Sequence[Recipient]) -> list[tuple[str, str]]:
    """(channel, recipient id) pairs; the MQTT alert topic once for all who want it."""
    pairs = [(channel, r.id) for r in recipients for channel in r.channels if channel != "mqtt"]
    if any(r.mqtt for r in recipients):
        pairs.append(("mqtt", MQTT_RECIPIENT))
    return pairs


@dataclass
class _Job:
    alert: AlertRecord
    data: dict[str, object]
    sends: list[tuple[str, str, int]]  # channel, recipient, attempt
    known: list[DeliveryRecord]


def _new_jobs(run: AnalysisRun, registry: Registry, directory: Directory, states: dict[str, FacilityAlerts],
              found: dict[str, list[Review]], settings: Settings, summary: RunSummary) -> list[_Job]:
    jobs = []
    now = settings.clock.time_ns()
    for result in run.facilities:
        state = states.get(result.facility_id, FacilityAlerts())
        for notice in decide(state, result, found.get(result.facility_id, []), run.as_of, settings.reminder_days):
            who = recipients_for(notice, directory)
            if not who:
                summary.unaddressed.append(f"{result.facility_id} ({notice.kind.value})")
                continue
            now += 1  # distinct decision times, even for notices decided within one clock tick
            link = directory.evidence_link(result.facility_id, run.as_of.isoformat(), result.region,
                                           result.status.value)
            data = payload(notice, registry.get(result.facility_id), [{"id": r.id, "name": r.label} for r in who],
                           link, datetime.fromtimestamp(now / 10**9, UTC),
                           {language: registry.display_type(result.type, language) for language in LANGUAGES})
            integrity = notice.kind.track == "integrity"
            alert = AlertRecord(result.facility_id, notice.kind, result.status, run.as_of, now, result.region,
                                result.type, str(data["message"]), "; ".join(notice_reasons(notice)),
                                tuple(r.id for r in who), detectors=detector_names(result) if integrity else ())
            text = orjson.dumps(data).decode()
            queued = [DeliveryRecord(alert.facility, alert.kind, channel, rid, Outcome.QUEUED, now, 0, text, now)
                      for channel, rid in planned(who)]
            jobs.append(_Job(alert, data, [(q.channel, q.recipient, 1) for q in queued], queued))
            summary.notices[notice.kind.value] += 1
    return jobs


def _retry_jobs(client: InfluxClient, states: dict[str, FacilityAlerts], new: list[_Job], now: int) -> list[_Job]:
    latest = [r for s in states.values() for r in s.latest]
    fresh = [r for r in latest if now - r.time_ns <= RETRY_HORIZON_DAYS * DAY_NS]
    if not fresh:
        return []
    known = alert_store.deliveries_since(client, min(r.time_ns for r in fresh))
    superseded = {(job.alert.facility, job.alert.kind.track) for job in new}
    jobs: dict[tuple[str, int], _Job] = {}
    for retry in plan_retries(fresh, known, now, superseded):
        key = (retry.alert.facility, retry.alert.time_ns)
        job = jobs.get(key)
        if job is None:
            mine = [d for d in known if (d.facility, d.alert_time) == key]
            job = jobs[key] = _Job(retry.alert, orjson.loads(retry.payload), [], mine)
        job.sends.append((retry.channel, retry.recipient, retry.attempt))
    return list(jobs.values())


def _digests(batches: list[tuple[_Job, bool]], deliverer: Deliverer) -> dict[tuple[int, str], Sent]:
    """Send each digest recipient one mail listing every notice of the run (new ones and retries); the outcome
    counts for each notice it carried."""
    wanted: dict[str, list[_Job]] = {}
    for job, _ in batches:
        for channel, rid, _attempt in job.sends:
            who = deliverer.directory.recipient(rid)
            if channel == "email" and who is not None and who.digest:
                wanted.setdefault(rid, []).append(job)
    outcomes: dict[tuple[int, str], Sent] = {}
    for rid, jobs in wanted.items():
        sent = deliverer.mail_digest(rid, [job.data for job in jobs])
        outcomes.update({(id(job), rid): each for job, each in zip(jobs, sent, strict=True)})
    return outcomes


def _deliver(batches: list[tuple[_Job, bool]], deliverer: Deliverer, summary: RunSummary, clock: Clock) -> list[str]:
    lines = []
    digested = _digests(batches, deliverer)
    for job, retrying in batches:
        alert = job.alert
        for channel, rid, attempt in job.sends:
            outcome = digested.get((id(job), rid)) if channel == "email" else None
            outcome = outcome or deliverer.send(channel, rid, job.data)
            record = DeliveryRecord(alert.facility, alert.kind, channel, rid,
                                    Outcome.SENT if outcome.ok else Outcome.FAILED, alert.time_ns, attempt,
                                    time_ns=clock.time_ns())
            job.known.append(record)
            lines.append(alert_store.delivery_line(record, alert.as_of, outcome.target, outcome.error))
            summary.retried += int(retrying)
            what = f"{alert.kind.value} for {alert.facility} to {rid} by {channel} (attempt {attempt})"
            if outcome.ok:
                summary.sent += 1
                log.info("sent %s", what)
            else:
                summary.failed += 1
                later = "giving up" if attempt >= MAX_ATTEMPTS else "will retry on the next run"
                log.warning("failed to send %s: %s; %s", what, outcome.error, later)
        delivered, failed = delivery_counts(job.known)
        job.alert = replace(alert, delivered=delivered, failed=failed)
        lines.append(alert_store.alert_line(job.alert))
    return lines


def process_run(run: AnalysisRun, registry: Registry, settings: Settings, *, client: InfluxClient | None = None,
                directory: Directory | None = None, deliverer: Deliverer | None = None) -> RunSummary:
    """Alert the auditors and departments about ``run``; never raises for a delivery or InfluxDB failure.

    Off (an empty summary) when neither ``directory`` nor FACMON_AUDITORS is given.
    """
    summary = RunSummary()
    if directory is None:
        if settings.auditors is None:
            log.debug("no auditors file (FACMON_AUDITORS): alerts are off")
            return summary
        try:
            directory = load_auditors(settings.auditors)
        except AuditorsError as exc:
            summary.error = str(exc)
            log.error("alerts not sent, the auditors file is unusable:\n%s", exc)
            return summary
    own_client = client is None
    client = client or InfluxClient.from_settings(settings, evidence=True)
    own = deliverer is None
    deliverer = deliverer or Deliverer(settings, directory)
    try:
        states = FacilityAlerts.from_records(alert_store.latest_alerts(client))
        found = reviews.by_facility(reviews.read(client, [r.facility_id for r in run.facilities]))
        new = _new_jobs(run, registry, directory, states, found, settings, summary)
        alert_store.write(client, [alert_store.alert_line(j.alert) for j in new]
                          + [alert_store.delivery_line(d, j.alert.as_of) for j in new for d in j.known])
        retries = _retry_jobs(client, states, new, settings.clock.time_ns())
        batches = [(job, False) for job in new] + [(job, True) for job in retries]
        lines = _deliver(batches, deliverer, summary, settings.clock)
        alert_store.write(client, lines)
    except InfluxError as exc:
        summary.error = f"InfluxDB: {exc}"
        log.error("alerts stopped: InfluxDB at %s: %s", settings.influx_url, exc)
    finally:
        if own:
            deliverer.close()
        if own_client:
            client.close()
    if summary.unaddressed:
        shown = ", ".join(summary.unaddressed[:10]) + (" …" if len(summary.unaddressed) > 10 else "")
        log.warning("%d notices have no recipient in the auditors file (no auditor for the region, or no "
                    "department contact): %s", len(summary.unaddressed), shown)
    if summary.notices or summary.sent or summary.failed:
        log.info("alerts for %s: %s; %d deliveries sent, %d failed (%d retries)", run.as_of,
                 dict(summary.notices) or "no new notices", summary.sent, summary.failed, summary.retried)
    return summary
