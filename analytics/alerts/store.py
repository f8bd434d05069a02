"""The record of alerts in InfluxDB: what was decided (``alert``) and every planned delivery and attempt
(``alert_delivery``). The next run decides from it, so ``facmon analyze`` keeps no local state.

``alert`` (the dashboards' contract, docs/schema.md): tags facility, kind, status, region, type; fields as_of,
message, reasons, recipients, delivered, failed, and detectors on data-integrity notices (so the next run can
tell a newly fired detector from the ones already alerted); time = decision time. A retry rewrites the point with
the same tags and time, so delivered/failed always give the latest count.

``alert_delivery``: tags facility, kind, channel, recipient, outcome (queued | sent | failed); fields alert_time
(the alert point's time, ns), attempt, as_of, target, error, and payload (the notice's JSON, on queued points
only); time = the alert's time for queued points, the attempt's time otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from analytics.alerts.decide import AlertRecord, DeliveryRecord, Kind, Outcome
from analytics.analysis.model import Status
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, time_literal
from facmon.core.lineproto import line
from facmon.core.names import ALERT
from facmon.core.names import ALERT_DELIVERY as DELIVERY

BATCH = 2000


def rows(results: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each row of a query's first result as a dict, GROUP BY tags included."""
    for series in results[0].get("series", []) if results else []:
        tags = series.get("tags") or {}
        columns = series["columns"]
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=True))
            row.update(tags)
            yield row


def _date(text: object) -> date | None:
    with contextlib.suppress(TypeError, ValueError):
        return date.fromisoformat(str(text))
    return None


def alert_record(row: dict[str, Any]) -> AlertRecord | None:
    """A row of ``alert`` as a record; rows with an unknown kind or status (a newer facmon's) are skipped."""
    try:
        kind, status = Kind(row.get("kind", "")), Status(row.get("status", ""))
    except ValueError:
        return None
    as_of = _date(row.get("as_of"))
    if as_of is None:
        return None
    recipients = tuple(filter(None, str(row.get("recipients") or "").split(",")))
    detectors = tuple(filter(None, str(row.get("detectors") or "").split(",")))
    return AlertRecord(
        facility=str(row["facility"]), kind=kind, status=status, as_of=as_of, time_ns=int(row["time"]),
        region=str(row.get("region") or ""), type=str(row.get("type") or ""), message=str(row.get("message") or ""),
        reasons=str(row.get("reasons") or ""), recipients=recipients, delivered=int(row.get("delivered") or 0),
        failed=int(row.get("failed") or 0), detectors=detectors,
    )


def latest_alerts(client: InfluxClient) -> list[AlertRecord]:
    """The latest alert of each facility and kind (enough for FacilityAlerts.from_records)."""
    group = f"{ident('facility')}, {ident('kind')}"
    results = client.query(f"SELECT * FROM {ident(ALERT)} GROUP BY {group} ORDER BY time DESC LIMIT 1", epoch="ns")  # noqa: S608
    return [record for record in map(alert_record, rows(results)) if record is not None]


def delivery_record(row: dict[str, Any]) -> DeliveryRecord | None:
    try:
        kind, outcome = Kind(row.get("kind", "")), Outcome(row.get("outcome", ""))
    except ValueError:
        return None
    return DeliveryRecord(
        facility=str(row["facility"]), kind=kind, channel=str(row.get("channel") or ""),
        recipient=str(row.get("recipient") or ""), outcome=outcome, alert_time=int(row.get("alert_time") or 0),
        attempt=int(row.get("attempt") or 0), payload=str(row.get("payload") or ""), time_ns=int(row["time"]),
    )


def deliveries_since(client: InfluxClient, since_ns: int) -> list[DeliveryRecord]:
    """Every planned delivery and attempt recorded from ``since_ns`` on."""
    since = datetime.fromtimestamp(since_ns // 10**9, UTC)
    statement = f"SELECT * FROM {ident(DELIVERY)} WHERE time >= {time_literal(since)}"  # noqa: S608 (quoted)
    found = (delivery_record(row) for row in rows(client.query(statement, epoch="ns")))
    return [record for record in found if record is not None]


def alert_line(record: AlertRecord) -> str:
    tags = {"facility": record.facility, "kind": record.kind.value, "status": record.status.value,
            "region": record.region, "type": record.type}
    fields: dict[str, str | int] = {
        "as_of": record.as_of.isoformat(), "message": record.message, "reasons": record.reasons,
        "recipients": ",".join(record.recipients), "delivered": record.delivered, "failed": record.failed,
    }
    if record.kind.track == "integrity":
        fields["detectors"] = ",".join(record.detectors)
    return line(ALERT, tags, fields, record.time_ns)


def delivery_line(record: DeliveryRecord, as_of: date, target: str = "", error: str = "") -> str:
    tags = {"facility": record.facility, "kind": record.kind.value, "channel": record.channel,
            "recipient": record.recipient, "outcome": record.outcome.value}
    fields: dict[str, str | int] = {"alert_time": record.alert_time, "attempt": record.attempt,
                                    "as_of": as_of.isoformat(), "target": target, "error": error}
    if record.payload:
        fields["payload"] = record.payload
    return line(DELIVERY, tags, fields, record.time_ns)


def write(client: InfluxClient, lines: Sequence[str] | Iterable[str]) -> int:
    """POST the points in batches; returns how many were written."""
    pending = list(lines)
    for start in range(0, len(pending), BATCH):
        client.write("\n".join(pending[start : start + BATCH]).encode())
    return len(pending)
