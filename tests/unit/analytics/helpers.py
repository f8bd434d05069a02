"""Building blocks for analytics tests: facilities from a few keywords, slot numbers from local wall-clock times."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics.analysis.schedule import SLOT_NS
from sensors.registry import Facility


def facility(fid: str = "lib-1", **fields: Any) -> Facility:
    data: dict[str, Any] = {
        "id": fid,
        "name": f"Facility {fid}",
        "type": "library",
        "region": "zhejiang/wenzhou/lucheng",
        "capacity": 100,
        "timezone": "Asia/Shanghai",
        "opening_hours": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    data.update(fields)
    return Facility.model_validate(data)


def local_ns(day: date, hour: int, minute: int = 0, zone: str = "Asia/Shanghai", fold: int = 0) -> int:
    """UTC ns of a local wall-clock time."""
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)
    return int(moment.timestamp()) * 10**9


def slot_of(day: date, hour: int, minute: int = 0, zone: str = "Asia/Shanghai") -> int:
    return local_ns(day, hour, minute, zone) // SLOT_NS


def readings(rows: list[tuple[int, int, float | None, float | None, float | None]]) -> pd.DataFrame:
    """A fetch result by hand: (facility code, slot, occupancy mean, entries sum, uses sum) per sensor row."""
    frame = pd.DataFrame(rows, columns=["fac", "slot", "occ_mean", "entries", "uses"])
    frame = frame.astype({"fac": np.int64, "slot": np.int64})
    for column in ("occ_mean", "entries", "uses"):
        frame[column] = frame[column].astype(np.float64)
    return frame
