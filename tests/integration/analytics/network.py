"""A small network for the checks that compare facilities: six honest libraries in two regions, two facilities
sharing one feed (clone) and one whose readings arrived three days late (late_arrival); a 7-day window before
AS_OF, readings every 5 minutes of the 09:00-17:00 opening hours, each stored with its receive time."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facmon.core.lineproto import line

AS_OF = date(2025, 11, 3)
WINDOW_DAYS = 7
HOURS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
WENZHOU, HANGZHOU = "zhejiang/wenzhou/lucheng", "zhejiang/hangzhou/xihu"
HONEST = {"lib-w1": WENZHOU, "lib-w2": WENZHOU, "lib-w3": WENZHOU, "lib-h1": HANGZHOU, "lib-h2": HANGZHOU,
          "lib-h3": HANGZHOU}
CLONES = {"clone-w": WENZHOU, "clone-h": HANGZHOU}  # one feed under two names, one in each region
LATE = {"late-w": WENZHOU}
LATE_BY_S = 3 * 86400
ZONE = ZoneInfo("Asia/Shanghai")


def registry() -> dict[str, Any]:
    regions = {**HONEST, **CLONES, **LATE}
    return {"facilities": [{"id": fid, "name": f"Library {fid}", "type": "library", "capacity": 100,
                            "region": region, "opening_hours": HOURS} for fid, region in sorted(regions.items())]}


def _series(seed: str, first: date) -> list[tuple[int, int]]:
    """(epoch seconds, occupancy) every 5 minutes of the window's opening hours, varying with ``seed``: a crowd
    that changes a few people at a time, as real occupancy does (numbers drawn afresh each reading are what the
    no_memory check flags)."""
    rng = random.Random(seed)
    out = []
    for n in range(WINDOW_DAYS):
        day = first + timedelta(days=n)
        moment = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE)
        end = moment + timedelta(hours=8)
        occupancy = rng.randint(15, 45)
        while moment < end:
            occupancy = min(60, max(5, occupancy + rng.randint(-3, 3)))
            out.append((int(moment.timestamp()), occupancy))
            moment += timedelta(minutes=5)
    return out


def readings() -> list[str]:
    first = AS_OF - timedelta(days=WINDOW_DAYS)
    lines = []

    def add(fid: str, series: list[tuple[int, int]], delay_s: int) -> None:
        for at, occupancy in series:
            fields = {"occupancy": occupancy, "received_ms": (at + delay_s) * 1000, "arrival_delay_ms": delay_s * 1000}
            lines.append(line("reading", {"facility": fid, "sensor": f"{fid}-s1"}, fields, at * 10**9))

    for fid in HONEST:
        add(fid, _series(fid, first), 5)
    shared = _series("the-feed", first)
    for fid in CLONES:
        add(fid, shared, 5)
    for fid in LATE:
        add(fid, _series(fid, first), LATE_BY_S)
    return lines
