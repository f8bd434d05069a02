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
from analytics.analysis.model import Status, Window
from analytics.analysis.output import figures_dict, integrity_dict, window_dict
from analytics.analysis.store import MEASUREMENT as STATUS_MEASUREMENT
from analytics.analysis.store import point_time
from facmon.core.i18n import N_, _, current, format_percent, labelled
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.names import READINGS
from sensors.facility_types import display_type
from sensors.registry import Facility

PAYLOAD_FORMAT = "facmon.alert/1"
REVIEW_HINT = "facmon review {id} --disposition confirmed|seasonal|repurposed|sensor_fault|other --note TEXT " \
              "[--until YYYY-MM-DD]"
_PERCENT = {"coverage", "occupancy_rate", "peak_rate", "idle_day_share", "closed_share"}
_FIGURE_LABELS = {
    "coverage": N_("sensor coverage of opening hours"),
    "occupancy_rate": N_("mean occupancy / capacity"),
    "peak_rate": N_("peak occupancy / capacity"),
    "visits_per_open_day": N_("visits per open day"),
    "uses_per_open_day": N_("uses per open day"),
    "idle_day_share": N_("share of open days without use"),
    "idle_days": N_("open days without use"),
    "observed_days": N_("open days with data"),
    "open_days": N_("open days"),
    "open_hours": N_("opening hours"),
    "closed_share": N_("share closed on purpose"),
}
#: Said with every data-integrity notice: the checks find figures real sensors rarely produce, not who made them.
#: The payload carries it in the process's language; a mail shows it in its recipient's.
CAVEAT = N_("This is a flag for review, not proof of forgery: the readings look implausible for real sensors, "
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
            "--format json --no-store",
            f"facmon report --format html --as-of {as_of} --region {result.region} --output report.html",
        ],
    }


def payload(
    notice: Notice, facility: Facility | None, recipients: list[Mapping[str, str]], link: str | None,
    decided: datetime, type_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The notice as JSON-ready data: evidence, the facility's details and whom it went to. ``type_names`` is
    what the type is called in each language (the registry's names, else the built-in ones), for the mails."""
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
            "type_names": dict(type_names) if type_names else None,
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
        data["caveat"] = _(CAVEAT)
    data["message"] = summary(data)
    return data


def _names(names: Any) -> str:
    """Detector names, each once (a detector may fire for several sensors)."""
    return ", ".join(dict.fromkeys(names or ())) or _("no detector")


def status_word(code: str | None) -> str:
    """A status code as the reader's language writes it (``IDLE``; 闲置 in Chinese): the words around the codes
    change, the payload's ``status`` fields do not."""
    if code is None:
        return ""
    return Status(code).label if code in Status.__members__ else code


def type_name(facility: Mapping[str, Any]) -> str:
    """The facility's type as the reader's language calls it: the name the payload carries (the registry's), else
    the built-in one, else the code (a payload stored before names were carried has none)."""
    names = facility.get("type_names") or {}
    return str(names.get(current()) or display_type(str(facility["type"]), current()))


def headline(data: Mapping[str, Any]) -> str:
    """What happened, e.g. ``IDLE: 鹿城区图书馆 (wz-lc-lib-001)``, ``Reminder: still IDLE since 2025-10-01: …``;
    in Chinese ``闲置：鹿城区图书馆 (wz-lc-lib-001)``."""
    kind = Kind(data["kind"])
    status, previous = status_word(data["status"]), status_word(data.get("previous_status"))
    who = "{name} ({id})".format(name=data["facility"]["name"], id=data["facility"]["id"])
    if kind is Kind.RAISED:
        what = f"{previous} → {status}" if previous else status
    elif kind is Kind.REMINDER:
        what = _("Reminder: still {status}").format(status=status) + _since(data)
    elif kind is Kind.RESOLVED:
        what = (_("Resolved, {previous} → {status}").format(previous=previous, status=status) if previous
                else _("Resolved, now {status}").format(status=status))
    elif kind is Kind.OUTAGE:
        what = _("Sensor outage ({status})").format(status=status)
    elif kind is Kind.OUTAGE_RESOLVED:
        what = _("Sensors reporting again ({status})").format(status=status)
    else:
        what = _integrity_headline(kind, data)
    return _("{what}: {who}").format(what=what, who=who)


def _since(data: Mapping[str, Any]) -> str:
    return _(" since {since}").format(since=data["since"]) if data.get("since") else ""


def _integrity_headline(kind: Kind, data: Mapping[str, Any]) -> str:
    flag = data.get("integrity") or {}
    detectors, before = flag.get("detectors"), flag.get("previous_detectors")
    if kind is Kind.INTEGRITY and before:
        return _("Data integrity flag, now also {detectors}").format(
            detectors=_names([d for d in detectors or () if d not in before]))
    if kind is Kind.INTEGRITY:
        return _("Data integrity flag ({detectors})").format(detectors=_names(detectors))
    if kind is Kind.INTEGRITY_REMINDER:
        return _("Reminder: data integrity flag still open{since} ({detectors})").format(
            since=_since(data), detectors=_names(detectors))
    return _("Data integrity flag cleared")


def summary(data: Mapping[str, Any]) -> str:
    """One line: the headline, the window and the first reason."""
    window = data["window"]
    reasons = data.get("reasons") or []
    text = _("{headline}, {first_day}..{last_day}").format(
        headline=headline(data), first_day=window["first_day"], last_day=window["last_day"])
    return _("{text}: {reason}").format(text=text, reason=reasons[0]) if reasons else text


def subject(data: Mapping[str, Any]) -> str:
    return f"[facmon] {headline(data)}"


def _figure(name: str, value: Any) -> str:
    if value is None:
        return _("n/a")
    if name in _PERCENT:
        return format_percent(value, 1)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _findings_text(data: Mapping[str, Any]) -> list[str]:
    """Each finding's reason, then the numbers that fired it."""
    findings = (data.get("integrity") or {}).get("findings") or []
    if not findings:
        return [_("Integrity checks: none fire any more.")]
    lines = [_("Integrity checks that fired:")]
    for finding in findings:
        lines.append("  - " + labelled(finding["detector"], finding["reason"]))
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
        lines += [_(CAVEAT), ""]
    previous = data.get("previous_status")
    was = (_(" (was {previous})").format(previous=status_word(previous)) if previous and previous != data["status"]
           else "")
    lines.append(_("Status: {status}{was}, as of {as_of}").format(status=status_word(data["status"]), was=was,
                                                                  as_of=data["as_of"]))
    lines.append(_("Window: {first_day} to {last_day} ({days} days, {timezone})").format(**window))
    lines.append(_("Sensor coverage: {coverage} of opening hours").format(
        coverage=_figure("coverage", data.get("coverage"))))
    none_given = [_("(none given)")]
    if integrity_notice:
        lines += ["", *_findings_text(data)]
        lines += ["", _("Why the status is {status}:").format(status=status_word(data["status"]))]
        lines += [f"  - {reason}" for reason in data.get("status_reasons") or none_given]
    else:
        lines += ["", _("Reasons:")]
        lines += [f"  - {reason}" for reason in data.get("reasons") or none_given]
        flag = data.get("integrity") or {}
        if flag.get("suspect"):
            lines += ["", _("Its data are also flagged as suspect ({detectors}); a separate data-integrity alert "
                            "covers that.").format(detectors=_names(flag.get("detectors")))]
    lines += ["", _("Figures:")]
    lines += ["  " + labelled(_(label), _figure(name, figures.get(name))) for name, label in _FIGURE_LABELS.items()]
    where = facility.get("location")
    nothing = _("(none in the registry)")
    lines += [
        "",
        _("Facility:"),
        "  {name} ({id})".format(**facility),
        "  " + _("type {type}, capacity {capacity}").format(type=type_name(facility), capacity=facility["capacity"]),
        "  " + _("region {region}").format(region=facility["region"]),
        "  " + _("department {department}").format(department=facility.get("department") or nothing),
        "  " + (_("location {lat}, {lon}").format(lat=where["lat"], lon=where["lon"]) if where
                else _("location (none in the registry)")),
        "",
        _("Evidence:"),
    ]
    proof = data["evidence"]
    if proof.get("link"):
        lines.append(f"  {proof['link']}")
    lines.append("  " + labelled("InfluxDB", proof["influxdb"]["query"]))
    if proof["influxdb"].get("readings_query"):
        lines.append("  " + labelled(_("Readings"), proof["influxdb"]["readings_query"]))
    lines += [f"  {command}" for command in proof["commands"]]
    if data.get("review"):
        lines += ["", _("To record your review (holds back alerts for this facility until --until):"),
                  f"  {data['review']}"]
    lines += ["", _("Decided at {decided_at} by facmon analyze.").format(decided_at=data["decided_at"])]
    return "\n".join(lines) + "\n"
