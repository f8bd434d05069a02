"""A hand-computed scenario: eleven facilities, their readings as line protocol, and the figures to expect.

as_of 2025-11-03 (a Monday), 28-day window: current 2025-10-06 (Mon) .. 2025-11-02 (Sun), previous
2025-09-08 .. 2025-10-05. Every expected figure is worked out in the comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facmon.core.lineproto import line

AS_OF = date(2025, 11, 3)
FIRST, LAST = date(2025, 10, 6), date(2025, 11, 2)
PREVIOUS_FIRST = date(2025, 9, 8)
DAILY = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

FACILITIES: list[dict[str, Any]] = [
    {"id": "lib-active", "type": "library", "capacity": 100, "opening_hours": DAILY, "department": "文广旅体局"},
    {"id": "gym-night", "type": "sports_hall", "capacity": 40,
     "opening_hours": {"fri": ["18:00-02:00"], "sun": ["22:00-01:00"]}},
    {"id": "comm-counts", "type": "community_center", "capacity": 60,
     "opening_hours": {d: ["08:30-11:30", "13:30-17:00"] for d in WEEKDAYS}},
    {"id": "lib-silent", "type": "library", "capacity": 100, "opening_hours": DAILY},
    {"id": "lib-cov60", "type": "library", "capacity": 100,
     "opening_hours": {d: ["10:00-15:00"] for d in DAILY}},
    {"id": "hall-idle", "type": "sports_hall", "capacity": 50, "opening_hours": DAILY},
    {"id": "hall-idle80", "type": "sports_hall", "capacity": 100,
     "opening_hours": {d: ["09:00-12:00"] for d in WEEKDAYS}},
    {"id": "berlin-dst", "type": "community_center", "capacity": 50, "timezone": "Europe/Berlin",
     "opening_hours": {"sun": ["00:00-24:00"]}},
    {"id": "pool-closed", "type": "swimming_pool", "capacity": 80, "opening_hours": DAILY,
     "closures": [{"from": "2025-10-06", "to": "2025-10-20", "reason": "renovation"}]},
    {"id": "pool-half", "type": "swimming_pool", "capacity": 80, "opening_hours": DAILY,
     "closures": [{"from": "2025-10-06", "to": "2025-10-19", "reason": "renovation"}]},
    {"id": "lib-two", "type": "library", "capacity": 100, "opening_hours": DAILY},
]


def registry() -> dict[str, Any]:
    facilities = []
    for spec in FACILITIES:
        region = "zhejiang/hangzhou/xihu" if spec["id"].startswith(("pool", "berlin")) else "zhejiang/wenzhou/lucheng"
        facilities.append({"name": f"Facility {spec['id']}", "region": region, **spec})
    return {"facilities": facilities}


def days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def at(day: date, hour: int, minute: int = 0, zone: str = "Asia/Shanghai") -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def every(start: datetime, end: datetime, minutes: int) -> Iterator[datetime]:
    """Instants from start (included) to end (excluded), stepping in UTC so DST days get their real length."""
    moment = start.astimezone(UTC)
    while moment < end.astimezone(UTC):
        yield moment
        moment += timedelta(minutes=minutes)


def point(fid: str, sensor: str, moment: datetime, **fields: int) -> str:
    return line("reading", {"facility": fid, "sensor": sensor}, fields, int(moment.timestamp()) * 10**9)


def readings() -> list[str]:
    out: list[str] = []
    for day in days(PREVIOUS_FIRST, LAST):
        current = day >= FIRST
        utc_day = datetime(day.year, day.month, day.day, tzinfo=UTC)
        # lib-active: data written in UTC. 01:00Z-09:00Z is 09:00-17:00 in Shanghai: 25 people now, 20 before,
        # 3 entries per 5 minutes (288 a day). 09:00Z-17:00Z (17:00-01:00 local, closed) holds zeros, and
        # 18:00Z (02:00 local) a cleaning crew of 50: neither may count.
        for moment in every(utc_day + timedelta(hours=1), utc_day + timedelta(hours=9), 5):
            out.append(point("lib-active", "door", moment, occupancy=25 if current else 20, entries=3))
        for moment in every(utc_day + timedelta(hours=9), utc_day + timedelta(hours=17), 15):
            out.append(point("lib-active", "door", moment, occupancy=0, entries=0))
        for moment in every(utc_day + timedelta(hours=18), utc_day + timedelta(hours=19), 5):
            out.append(point("lib-active", "door", moment, occupancy=50, entries=10))
        if not current:
            continue
        index = (day - FIRST).days
        weekday = day.weekday()
        # gym-night: Fridays 18:00-02:00 (32 quarters) and Sundays 22:00-01:00 (12), 4 people and 1 entry per
        # quarter: 176 quarters on 8 days, occupancy 4/40 = 10% exactly, 22 visits a day.
        if weekday == 4:
            for moment in every(at(day, 18), at(day, 18) + timedelta(hours=8), 15):
                out.append(point("gym-night", "hall", moment, occupancy=4, entries=1))
        if weekday == 6:
            for moment in every(at(day, 22), at(day, 22) + timedelta(hours=3), 15):
                out.append(point("gym-night", "hall", moment, occupancy=4, entries=1))
        # comm-counts: entries only, 1 per open quarter (26 a day on 20 weekdays); 100 at lunch, when closed.
        if weekday < 5:
            for start, end in ((at(day, 8, 30), at(day, 11, 30)), (at(day, 13, 30), at(day, 17))):
                for moment in every(start, end, 15):
                    out.append(point("comm-counts", "gate", moment, entries=1))
            for moment in every(at(day, 12), at(day, 13), 15):
                out.append(point("comm-counts", "gate", moment, entries=100))
        # lib-silent: nobody, and the sensor stops after 16 of 28 days: coverage 16/28 = 57%.
        if index < 16:
            for moment in every(at(day, 9), at(day, 17), 15):
                out.append(point("lib-silent", "s1", moment, occupancy=0))
        # lib-cov60: 30 people in the first 12 of 20 quarters every day: coverage exactly 60%.
        for moment in every(at(day, 10), at(day, 13), 15):
            out.append(point("lib-cov60", "s1", moment, occupancy=30))
        # hall-idle: nobody while open, but people at night: idle on 28 of 28 days.
        for moment in every(at(day, 9), at(day, 17), 15):
            out.append(point("hall-idle", "s1", moment, occupancy=0))
        for moment in every(at(day, 1), at(day, 3), 15):
            out.append(point("hall-idle", "s1", moment, occupancy=5, entries=2))
        # hall-idle80: weekdays 09:00-12:00; 50 people on the 4 Wednesdays only: idle 16/20 = 80%, occupancy
        # 4 x 12 x 50 / (20 x 12) = 10 of 100 = 10%.
        if weekday < 5:
            for moment in every(at(day, 9), at(day, 12), 15):
                out.append(point("hall-idle80", "s1", moment, occupancy=50 if weekday == 2 else 0))
        # berlin-dst: Sundays all day in Berlin, 10 people; 2025-10-26 has 25 hours: 24+24+25+24 = 97 h.
        if weekday == 6:
            start = at(day, 0, zone="Europe/Berlin")
            for moment in every(start, at(day + timedelta(days=1), 0, zone="Europe/Berlin"), 15):
                out.append(point("berlin-dst", "s1", moment, occupancy=10))
        # lib-two: sensor a 10 people always, sensor b 20 more on the first 14 days, sensor c counts 2 uses a
        # quarter: occupancy (14 x 30 + 14 x 10) / 28 = 20 -> 20%; hourly peaks 30 and 10 half each -> the
        # 95th percentile is 30; 64 uses a day.
        for moment in every(at(day, 9), at(day, 17), 15):
            out.append(point("lib-two", "a", moment, occupancy=10))
            out.append(point("lib-two", "c", moment, uses=2))
            if index < 14:
                out.append(point("lib-two", "b", moment, occupancy=20))
    # gym-night's Sunday 10-05 22:00-01:00 belongs to the previous window, also its hour after midnight on
    # Monday 10-06 (a full house); and Sunday 11-02's hour after midnight falls on as_of but counts.
    for moment in every(at(FIRST, 0), at(FIRST, 1), 15):
        out.append(point("gym-night", "hall", moment, occupancy=40, entries=9))
    return out


#: status, then figures checked exactly (None = absent); reasons where they matter.
EXPECTED: dict[str, dict[str, Any]] = {
    "lib-active": {"status": "ACTIVE", "open_days": 28, "open_hours": 224.0, "coverage": 1.0,
                   "occupancy_rate": 0.25, "peak_rate": 0.25, "visits_per_open_day": 288.0,
                   "uses_per_open_day": None, "idle_day_share": 0.0,
                   "reasons": ["mean occupancy 25% of capacity (≥ 10%)"]},
    "gym-night": {"status": "ACTIVE", "open_days": 8, "open_hours": 44.0, "coverage": 1.0, "occupancy_rate": 0.1,
                  "peak_rate": 0.1, "visits_per_open_day": 22.0, "idle_day_share": 0.0},
    "comm-counts": {"status": "UNDERUSED", "open_days": 20, "open_hours": 130.0, "coverage": 1.0,
                    "occupancy_rate": None, "visits_per_open_day": 26.0, "idle_day_share": 0.0,
                    "reasons": ["26 visits per open day, below 30 (0.5 × capacity 60)"]},
    "lib-silent": {"status": "NO_DATA", "open_days": 28, "observed_days": 16, "coverage": 16 / 28,
                   "idle_day_share": 1.0},
    "lib-cov60": {"status": "ACTIVE", "open_hours": 140.0, "covered_hours": 84.0, "coverage": 0.6,
                  "occupancy_rate": 0.3},
    "hall-idle": {"status": "IDLE", "idle_days": 28, "idle_day_share": 1.0, "occupancy_rate": 0.0,
                  "visits_per_open_day": None,
                  "reasons": ["no use on 28 of 28 open days (100% ≥ 80%)", "mean occupancy 0% of capacity (< 10%)"]},
    "hall-idle80": {"status": "IDLE", "open_days": 20, "idle_days": 16, "idle_day_share": 0.8,
                    "occupancy_rate": 0.1, "reasons": ["no use on 16 of 20 open days (80% ≥ 80%)"]},
    "berlin-dst": {"status": "ACTIVE", "open_days": 4, "open_hours": 97.0, "coverage": 1.0,
                   "occupancy_rate": 0.2},
    "pool-closed": {"status": "EXEMPT", "open_hours": 104.0, "closed_hours": 120.0,
                    "reasons": ["closed on purpose for 120 h of 224 h opening hours (54% > 50%): renovation"]},
    "pool-half": {"status": "NO_DATA", "open_hours": 112.0, "closed_hours": 112.0, "closed_share": 0.5,
                  "coverage": 0.0},
    "lib-two": {"status": "ACTIVE", "coverage": 1.0, "occupancy_rate": 0.2, "peak_rate": 0.3,
                "uses_per_open_day": 64.0, "visits_per_open_day": None},
}
PERCENTILES = {"lib-two": 0.0, "lib-active": 50.0, "lib-cov60": 100.0, "gym-night": 50.0, "hall-idle": 0.0,
               "hall-idle80": 50.0, "comm-counts": None, "berlin-dst": None, "lib-silent": None}
