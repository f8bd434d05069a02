"""A known scenario for the dashboards: five facilities, one per status, their sensors' readings (published
over MQTT like devices do), two bad messages, two status changes, the alerts and reviews the analytics would
have recorded, and one ACTIVE facility whose data the latest analysis found suspect.

The registry calls the regions and facilities by pinyin paths and English names (PINYIN), or as a Chinese county
does (CHINESE: 浙江省/丽水市/缙云县, names with spaces, commas and quotes), so every query is also run with the
values that have to survive line protocol, InfluxQL and Grafana's regex format.

Times are relative to the test's start: readings run every 15 minutes from Shanghai midnight of AS_OF - 7
(the window analysed) up to now, so they are within the ingester's 35-day limit whenever the test runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.alerts.decide import Disposition, Review
from analytics.alerts.reviews import review_line
from analytics.analysis.store import MEASUREMENT as STATUS_MEASUREMENT
from analytics.analysis.store import point_time
from facmon.core.lineproto import line
from sensors.registry import Registry

ZONE = ZoneInfo("Asia/Shanghai")
ALL_DAY = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
QUARTER = timedelta(minutes=15)
PREFIX = "facmondash/v1"
LUCHENG, OUHAI, XIHU = "zhejiang/wenzhou/lucheng", "zhejiang/wenzhou/ouhai", "zhejiang/hangzhou/xihu"


@dataclass(frozen=True)
class Sensor:
    facility: str
    sensor: str
    fields: dict[str, int]
    days: int | None = None  # only the first N days of the window (a sensor that died), else up to now
    by_hour: bool = False  # occupancy plus the local hour of day: 0 at midnight, 23 at 23:xx
    single: bool = False  # one reading only, just before the latest quarter hour (counted from the epoch)


@dataclass(frozen=True)
class Facility:
    id: str
    type: str
    region: str
    capacity: int
    status: str
    location: tuple[float, float] | None


FACILITIES = (
    Facility("d-busy", "library", LUCHENG, 100, "ACTIVE", (28.0, 120.65)),
    Facility("d-under", "sports_hall", LUCHENG, 100, "UNDERUSED", (28.01, 120.66)),
    Facility("d-idle", "sports_hall", OUHAI, 50, "IDLE", (27.96, 120.6)),
    Facility("d-silent", "library", OUHAI, 80, "NO_DATA", (27.97, 120.61)),
    Facility("d-exempt", "community_center", XIHU, 60, "EXEMPT", None),
)
BY_ID = {f.id: f for f in FACILITIES}


@dataclass(frozen=True)
class Names:
    """What the registry calls the scenario's regions (by the scenario's own paths) and its facilities."""

    label: str
    regions: Mapping[str, str] = field(default_factory=dict)
    facility_name: str = "Facility {id}"

    def region(self, facility: Facility | str) -> str:
        path = facility if isinstance(facility, str) else facility.region
        return self.regions.get(path, path)

    def name(self, facility_id: str) -> str:
        return self.facility_name.format(id=facility_id)


PINYIN = Names("pinyin")
CHINESE = Names("chinese",
                {LUCHENG: "浙江省/丽水市/缙云县", OUHAI: "浙江省/丽水市/莲都区", XIHU: "浙江省/杭州市/西湖区"},
                '缙云县东渡镇 "{id}" 文化礼堂, 二楼')
SENSORS = (
    Sensor("d-busy", "door-1", {"occupancy": 20, "entries": 3}),
    Sensor("d-busy", "door-2", {"occupancy": 0}, by_hour=True),
    Sensor("d-under", "s1", {"occupancy": 5, "uses": 1}),
    Sensor("d-under", "s2", {"occupancy": 0}, single=True),
    Sensor("d-idle", "s1", {"occupancy": 0}),
    Sensor("d-silent", "s1", {"occupancy": 10}, days=2),
)
DEPARTMENT = "鹿城区文广旅体局"


def as_of(now: datetime) -> date:
    """Today in Shanghai: the analysed window is the 7 whole local days before it."""
    return now.astimezone(ZONE).date()


def window_start(now: datetime) -> datetime:
    first = as_of(now) - timedelta(days=7)
    return datetime(first.year, first.month, first.day, tzinfo=ZONE)


def registry(now: datetime, names: Names = PINYIN) -> dict[str, Any]:
    facilities = []
    for f in FACILITIES:
        entry: dict[str, Any] = {"id": f.id, "name": names.name(f.id), "type": f.type, "region": names.region(f),
                                 "capacity": f.capacity, "opening_hours": ALL_DAY}
        if f.location:
            entry["location"] = {"lat": f.location[0], "lon": f.location[1]}
        if f.id == "d-busy":
            entry["department"] = DEPARTMENT
        if f.status == "EXEMPT":
            today = as_of(now)
            entry["closures"] = [{"from": (today - timedelta(days=30)).isoformat(),
                                  "to": (today + timedelta(days=30)).isoformat(), "reason": "renovation"}]
        facilities.append(entry)
    return {"facilities": facilities}


def timestamps(sensor: Sensor, now: datetime) -> Iterator[datetime]:
    """Quarter hours from the window's start up to now (or the sensor's last day)."""
    if sensor.single:  # 1 ms before the last quarter hour: in the last 15 minutes, but in an earlier quarter
        quarter = int(now.timestamp() * 1000) // 900_000 * 900_000
        yield datetime.fromtimestamp((quarter - 1) / 1000, UTC)
        return
    start = window_start(now)
    end = start + timedelta(days=sensor.days) if sensor.days else now
    moment = start
    while moment <= end:
        yield moment
        moment += QUARTER


def last_reading(sensor: Sensor, now: datetime) -> datetime:
    """The time of the sensor's latest reading (``now`` itself for live sensors)."""
    if sensor.days is None and not sensor.single:
        return now
    return max(timestamps(sensor, now))


def payloads(sensor: Sensor, now: datetime) -> list[list[dict[str, Any]]]:
    """Store-and-forward batches of up to 1,000 readings; live sensors add one reading at ``now`` itself, so
    none of them looks silent whatever the quarter hour the test runs in (it carries no entries or uses)."""
    items = [{**sensor.fields, "ts": round(moment.timestamp() * 1000), "occupancy": occupancy(sensor, moment)}
             for moment in timestamps(sensor, now)]
    if sensor.days is None and not sensor.single:
        items.append({"ts": round(now.timestamp() * 1000), "occupancy": occupancy(sensor, now)})
    return [items[start : start + 1000] for start in range(0, len(items), 1000)]


#: The sensor whose reading at `now` is re-sent with another occupancy: the scenario's one revision (of today,
#: outside the analysed window, so no figure changes; the reading keeps its time, so no count does).
REVISED = ("d-idle", "s1")


def revised(now: datetime) -> dict[str, Any]:
    return {"ts": round(now.timestamp() * 1000), "occupancy": 1}


def occupancy(sensor: Sensor, moment: datetime) -> int:
    return sensor.fields["occupancy"] + (moment.astimezone(ZONE).hour if sensor.by_hour else 0)


def busy_occupancy(moment_ms: int) -> int:
    """d-busy's occupancy at a time: door-1's 20 plus door-2's local hour."""
    return 20 + datetime.fromtimestamp(moment_ms / 1000, ZONE).hour


def reading_count(now: datetime) -> int:
    return sum(sum(len(batch) for batch in payloads(sensor, now)) for sensor in SENSORS)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def alert_lines(now: datetime, names: Names = PINYIN) -> list[str]:
    """Per the alert contract: tags facility, kind, status, region, type; time = decision time."""
    today = as_of(now)
    rows = [  # facility, kind, status, as_of, decided (days before now), failed
        ("d-busy", "raised", "UNDERUSED", today - timedelta(days=5), 5.0, 0),
        ("d-busy", "resolved", "ACTIVE", today - timedelta(days=3), 3.0, 0),
        ("d-busy", "outage", "NO_DATA", today - timedelta(days=6), 6.0, 0),
        ("d-busy", "outage_resolved", "ACTIVE", today - timedelta(days=4), 4.0, 0),
        ("d-idle", "raised", "IDLE", today - timedelta(days=1), 1.0, 0),
        ("d-idle", "reminder", "IDLE", today, 0.05, 0),
        ("d-under", "raised", "UNDERUSED", today, 0.04, 1),
        ("d-silent", "outage", "NO_DATA", today - timedelta(days=1), 1.0, 0),
        ("d-busy", "integrity", "ACTIVE", today, 0.03, 1),
        ("d-idle", "integrity", "IDLE", today - timedelta(days=2), 2.0, 0),
        ("d-idle", "integrity_resolved", "IDLE", today - timedelta(days=1), 0.9, 0),
    ]
    lines = []
    for fid, kind, status, day, ago, failed in rows:
        f = BY_ID[fid]
        fields: dict[str, str | int] = {
            "as_of": day.isoformat(), "message": f"{fid} is {status}", "reasons": f"{status} rule",
            "recipients": "audit@example.org", "delivered": 1 - failed, "failed": failed}
        if kind.startswith("integrity"):
            fields["detectors"] = SUSPECT[0] if kind == "integrity" else ""
        tags = {"facility": fid, "kind": kind, "status": status, "region": names.region(f), "type": f.type}
        lines.append(line("alert", tags, fields, _ns(now - timedelta(days=ago))))
    return lines


#: d-busy's data are suspect in the latest analysis: (detectors, reasons) as facmon analyze stores them.
SUSPECT = ("flat_line,copied_days",
           "occupancy constant at 20 for 24 h on 7 open days; 7 of 7 open days repeat another day's profile exactly")


def integrity_lines(now: datetime, statuses: dict[str, str], names: Names = PINYIN) -> list[str]:
    """The integrity fields of each facility's latest facility_status point (as-of today), as facmon analyze
    writes them: d-busy suspect, the others not. Same series and time as the analysed point, so InfluxDB merges
    the fields into it, whichever detectors the analysis itself ran."""
    when = _ns(point_time(as_of(now)))
    lines = []
    for f in FACILITIES:
        suspect = f.id == "d-busy"
        fields: dict[str, str | bool] = {"suspect": suspect, "integrity_detectors": SUSPECT[0] if suspect else "",
                                         "integrity": SUSPECT[1] if suspect else ""}
        tags = {"facility": f.id, "status": statuses[f.id], "type": f.type, "region": names.region(f)}
        lines.append(line(STATUS_MEASUREMENT, tags, fields, when))
    return lines


REVIEWS = (  # facility, disposition, note, hours before now, recorded with the facility's region and type
    ("d-idle", "confirmed", "Hall locked since the roof leak", 2, True),
    ("d-under", "sensor_fault", "Sensor moved behind the stage", 48, False),  # recorded before reviews had them
    ("d-busy", "other", "Counts checked on site", 96, True),
)


def review_lines(now: datetime, registry: Registry) -> list[str]:
    """The reviews as `facmon review` records them (analytics.alerts.reviews), one as an older version did."""
    until = as_of(now) + timedelta(days=30)
    return [review_line(Review(fid, Disposition(disposition), note, until, "auditor-li",
                               _ns(now - timedelta(hours=hours))), registry.get(fid) if tagged else None)
            for fid, disposition, note, hours, tagged in REVIEWS]


def utc_now() -> datetime:
    return datetime.now(UTC)
