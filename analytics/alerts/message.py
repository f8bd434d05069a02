"""What a notice says: one JSON payload per notice, and the one-line summary, mail subject and mail text made
from it. Pure.

The payload is the notice's only form: webhooks and MQTT carry it as JSON, mails are rendered from it, and it is
stored with the planned deliveries so that a retry on a later run sends exactly what the first attempt did.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.alerts.decide import Kind, Notice
from analytics.analysis.model import Window
from analytics.analysis.output import figures_dict, integrity_dict, window_dict
from analytics.analysis.store import MEASUREMENT as STATUS_MEASUREMENT
from analytics.analysis.store import point_time
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.names import READINGS
from sensors.registry import Facility

PAYLOAD_FORMAT = "facmon.alert/1"
REVIEW_HINT = "facmon review {id} --disposition confirmed|seasonal|repurposed|sensor_fault|other --note TEXT " \
              "[--until YYYY-MM-DD]"
_PERCENT = {"coverage", "occupancy_rate", "peak_rate", "idle_day_share", "closed_share"}
_FIGURE_LABELS = {
    "coverage": "sensor coverage of opening hours",
    "occupancy_rate": "mean occupancy / capacity",
    "peak_rate": "peak occupancy / capacity",
    "visits_per_open_day": "visits per open day",
    "uses_per_open_day": "uses per open day",
    "idle_day_share": "share of open days without use",
    "idle_days": "open days without use",
    "observed_days": "open days with data",
    "open_days": "open days",
    "open_hours": "opening hours",
    "closed_share": "share closed on purpose",
}
#: Said with every data-integrity notice: the checks find figures real sensors rarely produce, not who made them.
CAVEAT = ("This is a flag for review, not proof of forgery: the readings look implausible for real sensors, "
          "and a stuck or misconfigured sensor, or a device replaying its buffer, can look the same. Check the "
          "readings and ask before drawing conclusions.")


def notice_reasons(notice: Notice) -> tuple[str, ...]:
    """What the notice is about: the findings' reasons for data-integrity notices, the status's otherwise."""
    result = notice.result
    return result.integrity.reasons if notice.kind.track == "integrity" else result.reasons


def _window_utc(window: Window) -> tuple[datetime, datetime]:
    """The window's local days as UTC instants: from the first day's midnight to the midnight after the last."""
    zone = ZoneInfo(window.timezone)
    start = datetime.combine(window.first_day, time(), zone)
    return start, datetime.combine(window.last_day + timedelta(days=1), time(), zone)


def readings_query(notice: Notice) -> str:
    """The raw readings of the facility over the window: what the integrity checks looked at."""
    result = notice.result
    start, end = _window_utc(result.window)
    which = (f"{ident('facility')} = {literal(result.facility_id)} AND time >= {time_literal(start)} "
             f"AND time < {time_literal(end)}")
    return f"SELECT * FROM {ident(READINGS)} WHERE {which}"  # noqa: S608 (quoted by facmon.core.influxql)


def integrity_data(notice: Notice) -> dict[str, Any]:
    """The facility's integrity flag as ``facmon analyze --format json`` gives it, and for an alert raised again
    the detectors the open alert had reported."""
    data = integrity_dict(notice.result.integrity)
    data["previous_detectors"] = list(notice.previous_detectors) if notice.previous_detectors else None
    return data


def evidence(notice: Notice, link: str | None) -> dict[str, Any]:
    """Where the evidence is: the stored status point, the commands that show it, the configured link."""
    result = notice.result
    when = point_time(notice.as_of)
    which = f"{ident('facility')} = {literal(result.facility_id)} AND time = {time_literal(when)}"
    query = f"SELECT * FROM {ident(STATUS_MEASUREMENT)} WHERE {which}"  # noqa: S608 (quoted by facmon.core.influxql)
    as_of = notice.as_of.isoformat()
    stored: dict[str, Any] = {"measurement": STATUS_MEASUREMENT, "facility": result.facility_id,
                              "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "query": query}
    if notice.kind.track == "integrity":
        stored["readings_query"] = readings_query(notice)
    return {
        "link": link,
        "influxdb": stored,
        "commands": [
            f"facmon analyze --facility {result.facility_id} --as-of {as_of} --window {result.window.days}d "
            "--format json",
            f"facmon report --format html --as-of {as_of} --region {result.region} --output report.html",
        ],
    }


def payload(
    notice: Notice, facility: Facility | None, recipients: list[Mapping[str, str]], link: str | None,
    decided: datetime,
) -> dict[str, Any]:
    """The notice as JSON-ready data: evidence, the facility's details and whom it went to."""
    result = notice.result
    location = None
    if facility is not None and facility.location is not None:
        location = {"lat": facility.location.lat, "lon": facility.location.lon}
    data: dict[str, Any] = {
        "format": PAYLOAD_FORMAT,
        "kind": notice.kind.value,
        "status": result.status.value,
        "previous_status": None if notice.previous is None else notice.previous.value,
        "since": None if notice.since is None else notice.since.isoformat(),
        "as_of": notice.as_of.isoformat(),
        "decided_at": decided.astimezone(UTC).isoformat(timespec="seconds"),
        "facility": {
            "id": result.facility_id, "name": result.name, "type": result.type, "region": result.region,
            "department": result.department, "capacity": result.capacity, "location": location,
        },
        "window": window_dict(result.window),
        "coverage": figures_dict(result.figures)["coverage"],
        "figures": figures_dict(result.figures),
        "reasons": list(notice_reasons(notice)),
        "fired": [{"rule": f.rule, "value": f.value, "threshold": f.threshold, "comparison": f.comparison}
                  for f in result.fired],
        "integrity": integrity_data(notice),
        "evidence": evidence(notice, link),
        "recipients": [dict(r) for r in recipients],
        "review": REVIEW_HINT.format(id=result.facility_id) if notice.kind.track != "outage" else None,
    }
    if notice.kind.track == "integrity":
        data["status_reasons"] = list(result.reasons)
        data["caveat"] = CAVEAT
    data["message"] = summary(data)
    return data


def _names(names: Any) -> str:
    """Detector names, each once (a detector may fire for several sensors)."""
    return ", ".join(dict.fromkeys(names or ())) or "no detector"


def headline(data: Mapping[str, Any]) -> str:
    """What happened, e.g. ``IDLE: 鹿城区图书馆 (wz-lc-lib-001)``, ``Reminder: still IDLE since 2025-10-01: …``."""
    kind, status, previous = Kind(data["kind"]), data["status"], data.get("previous_status")
    who = f"{data['facility']['name']} ({data['facility']['id']})"
    if kind is Kind.RAISED:
        what = f"{previous} → {status}" if previous else status
    elif kind is Kind.REMINDER:
        what = f"Reminder: still {status}" + (f" since {data['since']}" if data.get("since") else "")
    elif kind is Kind.RESOLVED:
        what = f"Resolved, {previous} → {status}" if previous else f"Resolved, now {status}"
    elif kind is Kind.OUTAGE:
        what = "Sensor outage (NO_DATA)"
    elif kind is Kind.OUTAGE_RESOLVED:
        what = f"Sensors reporting again ({status})"
    else:
        what = _integrity_headline(kind, data)
    return f"{what}: {who}"


def _integrity_headline(kind: Kind, data: Mapping[str, Any]) -> str:
    flag = data.get("integrity") or {}
    detectors, before = flag.get("detectors"), flag.get("previous_detectors")
    if kind is Kind.INTEGRITY and before:
        return f"Data integrity flag, now also {_names([d for d in detectors or () if d not in before])}"
    if kind is Kind.INTEGRITY:
        return f"Data integrity flag ({_names(detectors)})"
    if kind is Kind.INTEGRITY_REMINDER:
        since = f" since {data['since']}" if data.get("since") else ""
        return f"Reminder: data integrity flag still open{since} ({_names(detectors)})"
    return "Data integrity flag cleared"


def summary(data: Mapping[str, Any]) -> str:
    """One line: the headline, the window and the first reason."""
    window = data["window"]
    reasons = data.get("reasons") or []
    text = f"{headline(data)}, {window['first_day']}..{window['last_day']}"
    return f"{text}: {reasons[0]}" if reasons else text


def subject(data: Mapping[str, Any]) -> str:
    return f"[facmon] {headline(data)}"


def _figure(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if name in _PERCENT:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _findings_text(data: Mapping[str, Any]) -> list[str]:
    """Each finding's reason, then the numbers that fired it."""
    findings = (data.get("integrity") or {}).get("findings") or []
    if not findings:
        return ["Integrity checks: none fire any more."]
    lines = ["Integrity checks that fired:"]
    for finding in findings:
        lines.append(f"  - {finding['detector']}: {finding['reason']}")
        numbers = ", ".join(f"{name} {value}" for name, value in (finding.get("evidence") or {}).items())
        if numbers:
            lines.append(f"      ({numbers})")
    return lines


def mail_text(data: Mapping[str, Any]) -> str:
    """The plain-text mail: what, why (reasons with their numbers), the figures, the facility, the evidence."""
    facility, window, figures = data["facility"], data["window"], data["figures"]
    integrity_notice = Kind(data["kind"]).track == "integrity"
    lines = [headline(data), ""]
    if data.get("caveat"):
        lines += [data["caveat"], ""]
    previous = data.get("previous_status")
    was = f" (was {previous})" if previous and previous != data["status"] else ""
    lines.append(f"Status: {data['status']}{was}, as of {data['as_of']}")
    lines.append(f"Window: {window['first_day']} to {window['last_day']} ({window['days']} days, {window['timezone']})")
    lines.append(f"Sensor coverage: {_figure('coverage', data.get('coverage'))} of opening hours")
    if integrity_notice:
        lines += ["", *_findings_text(data)]
        lines += ["", f"Why the status is {data['status']}:"]
        lines += [f"  - {reason}" for reason in data.get("status_reasons") or ["(none given)"]]
    else:
        lines += ["", "Reasons:"]
        lines += [f"  - {reason}" for reason in data.get("reasons") or ["(none given)"]]
        flag = data.get("integrity") or {}
        if flag.get("suspect"):
            lines += ["", f"Its data are also flagged as suspect ({_names(flag.get('detectors'))}); a separate "
                          "data-integrity alert covers that."]
    lines += ["", "Figures:"]
    lines += [f"  {label}: {_figure(name, figures.get(name))}" for name, label in _FIGURE_LABELS.items()]
    where = facility.get("location")
    lines += [
        "",
        "Facility:",
        f"  {facility['name']} ({facility['id']})",
        f"  type {facility['type']}, capacity {facility['capacity']}",
        f"  region {facility['region']}",
        f"  department {facility.get('department') or '(none in the registry)'}",
        f"  location {where['lat']}, {where['lon']}" if where else "  location (none in the registry)",
        "",
        "Evidence:",
    ]
    proof = data["evidence"]
    if proof.get("link"):
        lines.append(f"  {proof['link']}")
    lines.append(f"  InfluxDB: {proof['influxdb']['query']}")
    if proof["influxdb"].get("readings_query"):
        lines.append(f"  Readings: {proof['influxdb']['readings_query']}")
    lines += [f"  {command}" for command in proof["commands"]]
    if data.get("review"):
        lines += ["", "To record your review (holds back alerts for this facility until --until):",
                  f"  {data['review']}"]
    lines += ["", f"Decided at {data['decided_at']} by facmon analyze."]
    return "\n".join(lines) + "\n"
