"""Device health at a glance (`facmon devices`, issue 17): every sensor that reported to a registered facility, with
its last reading and its age, readings today against what its heartbeat promises, refusals of the last 24 h with
the latest reason, online/offline from its status topic, and revisions; and sensors that tried to publish for a
facility the registry does not know.

The facmon registry lists facilities, not sensors: a sensor is known from what it sent (readings, statuses,
refusals), up to FACMON_MAX_READING_AGE back. "Expected today" is the contract's heartbeat — a reading every 15
minutes while the facility is open — over today's opening hours up to now, in the facility's time zone.
`queries()` is the InfluxQL; `health()` is pure (frames in, rows out).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from facmon.core.i18n import N_, _
from facmon.core.influxql import MAX_NAMED, ident, literal
from sensors.registry import Facility
from sensors.wording import duration, instant

HEARTBEAT = timedelta(minutes=15)
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Device:
    """One sensor's health. `registered` is False for a sensor that tried a facility outside the registry."""

    facility: str
    sensor: str
    registered: bool
    region: str = ""
    last_reading: str = ""  # the last reading's ts (UTC), "" when it never delivered one
    age_s: int | None = None
    readings_today: int = 0
    expected_today: int = 0
    refusals_24h: int = 0
    latest_reason: str = ""
    status: str = "unknown"  # online / offline from its status topic
    revisions: int = 0


def _select(what: str, measurement: str, where: str, start_ns: int, until_ns: int, group: bool = True) -> str:
    """One statement; `where` holds only literal()-quoted ids, the bounds are integers."""
    condition = f"{where} AND " if where else ""
    text = f"SELECT {what} FROM {ident(measurement)} WHERE {condition}time >= {start_ns} AND time < {until_ns}"  # noqa: S608
    return text + (" GROUP BY facility, sensor" if group else "")


def _which(facilities: Sequence[Facility]) -> str:
    """The facilities' ids ORed, or "" (no filter: health keeps their rows) for more than MAX_NAMED of them."""
    if len(facilities) > MAX_NAMED:
        return ""
    return "(" + (" OR ".join(f"facility = {literal(f.id)}" for f in facilities) or "false") + ")"


def queries(facilities: Sequence[Facility], now: datetime, max_age: timedelta) -> dict[str, str]:
    """The InfluxQL per part; every id is quoted, every bound explicit (the injectable clock, never now())."""
    since = int((now - max_age).timestamp()) * _NS
    day_ago = int((now - timedelta(days=1)).timestamp()) * _NS
    until = int(now.timestamp()) * _NS + 300 * _NS  # the contract lets a ts run 5 minutes ahead
    which = _which(facilities)
    zones: dict[str, list[Facility]] = {}
    for f in facilities:
        zones.setdefault(f.timezone, []).append(f)
    parts = {  # readings since local midnight: one count per time zone of the facilities
        f"today:{zone}": _select("count(received_ms)", "reading", _which(group),
                                 int(_midnight(group[0], now).timestamp()) * _NS, until)
        for zone, group in zones.items()
    }
    parts["last"] = _select("last(received_ms)", "reading", which, since, until)
    parts["status"] = _select("last(online)", "sensor_status", which, since, until)
    parts["revisions"] = _select("count(new_received_ms)", "revision", which, since, until)
    # refusals of unknown facilities have no facility tag (the id is a field): not filtered by facility
    parts["refusals"] = _select("*", "refusal", "", day_ago, until, group=False)
    return parts


def _midnight(facility: Facility, now: datetime) -> datetime:
    local = now.astimezone(facility.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def expected_today(facility: Facility, now: datetime) -> int:
    """Heartbeats due since local midnight: one per 15 minutes of today's opening hours that have passed."""
    local = now.astimezone(facility.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if facility.is_closure_day(local.date()) is not None:
        return 0
    open_s = 0.0
    for span in facility.hours_on(local.weekday()):
        start = midnight.replace(hour=span.start.hour, minute=span.start.minute)
        end = midnight.replace(hour=span.end.hour, minute=span.end.minute)
        if end <= start:
            end = midnight + timedelta(days=1)  # past midnight: today's part only
        open_s += max(0.0, (min(end, local) - start).total_seconds())
    return int(open_s // HEARTBEAT.total_seconds())


def series_rows(answer: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """InfluxDB's JSON `results` as flat rows: tags and columns together."""
    rows: list[dict[str, object]] = []
    for result in answer:
        for series in result.get("series", []) or []:  # type: ignore[attr-defined]
            tags = series.get("tags") or {}
            for values in series["values"]:
                rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
    return rows


def health(facilities: Sequence[Facility], now: datetime, parts: Mapping[str, list[dict[str, object]]],
           unregistered: bool = True) -> list[Device]:
    """The devices of `facilities` (and, with `unregistered`, sensors refused for an unknown facility)."""
    known = {f.id: f for f in facilities}
    now_ns = int(now.timestamp()) * _NS
    devices: dict[tuple[str, str], dict[str, object]] = {}

    def device(facility: str, sensor: str) -> dict[str, object]:
        key = (facility, sensor)
        if key not in devices:
            devices[key] = {"facility": facility, "sensor": sensor, "registered": facility in known,
                            "region": known[facility].region if facility in known else ""}
        return devices[key]

    def ours(rows: list[dict[str, object]], zone: str | None = None) -> list[dict[str, object]]:
        """Rows of the facilities asked about (a query for many names none, queries._which), in ``zone``."""
        return [row for row in rows if (f := known.get(str(row["facility"]))) is not None
                and (zone is None or f.timezone == zone)]

    for row in ours(parts.get("last", [])):
        d = device(str(row["facility"]), str(row["sensor"]))
        ts = int(row["time"])  # type: ignore[call-overload]
        d["last_reading"] = instant(ts)
        d["age_s"] = max(0, (now_ns - ts) // _NS)
    for name, rows in parts.items():
        if name.startswith("today:"):
            for row in ours(rows, name.removeprefix("today:")):
                device(str(row["facility"]), str(row["sensor"]))["readings_today"] = int(row["count"])  # type: ignore[call-overload]
    for row in ours(parts.get("status", [])):
        device(str(row["facility"]), str(row["sensor"]))["status"] = "online" if row["last"] else "offline"
    for row in ours(parts.get("revisions", [])):
        device(str(row["facility"]), str(row["sensor"]))["revisions"] = int(row["count"])  # type: ignore[call-overload]
    refusals = sorted(parts.get("refusals", []), key=lambda r: int(r["time"]))  # type: ignore[call-overload]
    for row in refusals:
        facility = row.get("facility") or row.get("unknown_facility")
        sensor = row.get("sensor")
        if not facility or not sensor:
            continue
        if facility not in known and (row.get("facility") or not unregistered):
            continue
        d = device(str(facility), str(sensor))
        d["refusals_24h"] = int(d.get("refusals_24h", 0)) + int(row.get("count") or 1)  # type: ignore[call-overload]
        d["latest_reason"] = str(row["reason"])
    result = []
    for (facility, _sensor), fields in sorted(devices.items()):
        if facility in known:
            fields["expected_today"] = expected_today(known[facility], now)
        result.append(Device(**fields))  # type: ignore[arg-type]
    return result


COLUMNS = ("facility", "sensor", "registered", "region", "last_reading", "age", "readings_today", "expected_today",
           "refusals_24h", "latest_reason", "status", "revisions")


#: The table's columns and their titles for people (JSON and CSV keep the keys; status and reasons stay codes).
TABLE_TITLES = {"facility": N_("facility"), "sensor": N_("sensor"), "registered": N_("registered"),
                "last_reading": N_("last_reading"), "age": N_("age"), "today": N_("today"),
                "refusals_24h": N_("refusals_24h"), "latest_reason": N_("latest_reason"), "status": N_("status"),
                "revisions": N_("revisions")}


def _flat(device: Device) -> dict[str, object]:
    row = asdict(device)
    age = row.pop("age_s")
    row["age"] = "" if age is None else duration(age)
    return {name: row[name] for name in COLUMNS}


def render(devices: Sequence[Device], fmt: str, now: datetime) -> str:
    """table, json or csv."""
    if fmt == "json":
        return json.dumps({"as_of": now.astimezone(UTC).isoformat(), "devices": [asdict(d) for d in devices]},
                          ensure_ascii=False, indent=2) + "\n"
    rows = [_flat(d) for d in devices]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["registered"] = frame["registered"].map({True: _("yes"), False: _("NO")})
    frame["today"] = frame["readings_today"].astype(str) + "/" + frame["expected_today"].astype(str)
    shown = frame[list(TABLE_TITLES)].rename(columns={key: _(title) for key, title in TABLE_TITLES.items()})
    header = _("{count} sensors, as of {time}").format(count=len(devices), time=instant(int(now.timestamp()) * _NS))
    return header + "\n" + (shown.to_string(index=False) if len(shown) else _("(none)")) + "\n"


def summary_lines(devices: Sequence[Mapping[str, object]]) -> list[str]:
    """A few lines for the demo: how many sensors, which are behind or refused, from `--format json` rows."""
    registered = [d for d in devices if d["registered"]]
    behind = [d for d in registered if int(d["readings_today"]) < int(d["expected_today"])]  # type: ignore[call-overload]
    offline = [d for d in registered if d["status"] == "offline"]
    refused = [d for d in registered if int(d["refusals_24h"])]  # type: ignore[call-overload]
    revised = sum(int(d["revisions"]) for d in registered)  # type: ignore[call-overload]
    lines = [_("{count} sensors: {on_time} on their heartbeat today, {behind} behind, {offline} offline, "
               "{refused} refused in 24 h, {revised} revisions").format(
        count=len(registered), on_time=len(registered) - len(behind), behind=len(behind), offline=len(offline),
        refused=len(refused), revised=revised)]
    unknown = len(devices) - len(registered)
    if unknown:
        lines.append(_("{count} sensors tried facilities that are not in the registry").format(count=unknown))
    for d in refused[:3]:
        lines.append("  " + _("{facility}/{sensor}: {count} refused, latest {reason}").format(
            facility=d["facility"], sensor=d["sensor"], count=d["refusals_24h"], reason=d["latest_reason"]))
    return lines
