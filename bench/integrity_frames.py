"""The integrity detectors on simulated data, in process: no broker, no database.

The simulator's measured readings (sensors.simulator.simulate.day_readings, before delivery) become the 15-minute
frame the analytics read from InfluxDB, one reading per sensor and quarter hour; analytics.analysis.figures sums
the days and analytics.integrity judges them. Delivery habits (late uploads, offline stretches) are left out:
late_arrival and coverage need the real pipeline (tests/integration/analytics/test_integrity_county.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from analytics.analysis import figures
from analytics.analysis.model import Figures, Integrity
from analytics.analysis.rules import Rules
from analytics.analysis.schedule import SLOT_NS, slot_grid
from analytics.integrity import assess as integrity
from sensors.registry import Registry, parse_registry
from sensors.simulator.plan import SimSensor, plan
from sensors.simulator.simulate import day_readings

HOURS = {"library": ["08:30-20:30"], "elderly_care": ["08:00-17:00"], "sports_hall": ["07:00-22:00"],
         "community_center": ["08:00-21:00"]}
CAPACITY = {"library": 120, "elderly_care": 40, "sports_hall": 150, "community_center": 100}


def facility_entry(fid: str, kind: str, profile: str, source: str | None = None,
                   capacity: int | None = None) -> dict[str, Any]:
    """A registry entry open every day (HOURS) with the given simulator profile."""
    simulation: dict[str, Any] = {"profile": profile}
    if source:
        simulation["source"] = source
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {"id": fid, "name": fid, "type": kind, "region": "zhejiang/test/bench",
            "capacity": capacity or CAPACITY[kind], "opening_hours": dict.fromkeys(days, HOURS[kind]),
            "simulation": simulation}


def registry_of(entries: Sequence[dict[str, Any]]) -> Registry:
    return parse_registry({"facilities": list(entries)})


def readings_frame(sensors: Sequence[SimSensor], codes: dict[str, int], seed: int, first: date,
                   days: int) -> pd.DataFrame:
    """One row per (facility code, sensor, slot): what the 15-minute query returns for one reading per slot."""
    names: dict[tuple[str, str], int] = {}
    rows: list[tuple[int, int, int, float, float, float, float]] = []
    for sensor in sensors:
        sensor_code = names.setdefault((sensor.facility.id, sensor.sensor), len(names))
        fac = codes[sensor.facility.id]
        for ordinal in range(first.toordinal() - 1, first.toordinal() + days):
            for item in day_readings(sensor, seed, ordinal):
                r = item.reading
                rows.append((fac, sensor_code, item.epoch * 10**9 // SLOT_NS, float(r["occupancy"]),
                             float(r["entries"]), float(r["exits"]), float(r.get("uses", np.nan))))
    frame = pd.DataFrame(rows, columns=["fac", "sensor", "slot", "occ_mean", "entries", "exits", "uses"])
    return frame.drop_duplicates(["fac", "sensor", "slot"], keep="last").reset_index(drop=True)


def judge(registry: Registry, seed: int, first: date = date(2026, 10, 5), days: int = 28,
          rules: Rules | None = None,
          alter: Callable[[pd.DataFrame, dict[str, int]], pd.DataFrame] | None = None) -> dict[str, Integrity]:
    """Integrity per facility id after simulating ``days`` days from ``first`` with ``seed``; ``alter`` may
    change the quarter-hour frame first (given the facility codes by id), as a forger or a broken counter would."""
    sensors, _ = plan(registry)
    facilities = list(registry.facilities)
    codes = {f.id: code for code, f in enumerate(facilities)}
    last = first + timedelta(days=days - 1)
    grid = figures.grid_frame([(slot_grid(f, first, last), first.toordinal()) for f in facilities])
    readings = readings_frame(sensors, codes, seed, first, days)
    if alter is not None:
        readings = alter(readings, codes)
    summary = figures.day_summaries(grid[~grid["closed"].to_numpy()], readings)
    rules = rules or Rules()
    limits = [rules.for_type(f.type) for f in facilities]
    found = integrity.assess(summary, facilities, limits, [Figures()] * len(facilities))
    return {f.id: result for f, result in zip(facilities, found, strict=True)}
