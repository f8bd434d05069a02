"""Clones and late arrival, which compare facilities; and the day values they are computed from."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analytics.analysis import figures
from analytics.analysis.model import Detector
from analytics.analysis.schedule import slot_grid
from analytics.integrity import days as integrity_days
from analytics.integrity.network import clone, late_arrival, lateness
from analytics.integrity.rules import IntegrityThresholds
from tests.unit.analytics.helpers import facility, slot_of

LIMITS = IntegrityThresholds()
MON = date(2025, 10, 6)


def prints(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["fac", "day", "fp"]).astype(np.int64)


def test_clone_pairs_facilities_with_the_same_series_on_enough_days():
    rows = [(0, d, 100 + d) for d in range(5)] + [(2, d, 100 + d) for d in range(3)] + [(1, d, 7 + d) for d in range(5)]
    found = clone(prints(rows), ["a", "b", "c"], [LIMITS] * 3)
    assert set(found) == {0, 2}
    assert found[2].detector is Detector.CLONE
    assert found[2].reason.startswith("the same occupancy series as a on 3")
    near = clone(prints([r for r in rows if not (r[0] == 2 and r[1] == 2)]), ["a", "b", "c"], [LIMITS] * 3)
    assert near == {}


def test_clone_within_a_facility_is_two_sensors():
    rows = [(0, d, 55 + d) for d in range(3)] * 2
    found = clone(prints(rows), ["a"], [LIMITS])
    assert "two of its sensors" in found[0].reason


def arrivals(delays_h: dict[int, float], facilities: int = 4, hours: int = 240) -> pd.DataFrame:
    """Facility-hours arriving 60 s after their hour, some facility-hours later by the given hours."""
    rows = []
    for fac in range(facilities):
        for hour in range(1000, 1000 + hours):
            late = delays_h.get(fac, 0.0) if hour < 1000 + hours // 2 else 0.0
            rows.append((fac, hour // 24, hour, 60.0 + late * 3600))
    return pd.DataFrame(rows, columns=["fac", "day", "hour", "arrival"])


def test_lateness_is_measured_against_the_network():
    found = lateness(arrivals({3: 30.0}), np.full(4, 24.0), 3)
    assert found[3].late == 120
    assert found[3].hours == 240
    assert found[3].median_late_hours == 30.0
    assert found[0].late == 0
    finding = late_arrival(found[3], LIMITS, open_hours=240, covered_hours=240, min_coverage=0.6)
    assert finding is not None
    assert finding.detector is Detector.LATE_ARRIVAL
    assert "120 of 240 hours" in finding.reason
    assert "NO_DATA" in finding.reason
    near = lateness(arrivals({3: 20.0}), np.full(4, 24.0), 3)  # store and forward of 20 h
    assert near[3].late == 0


def test_a_replay_that_sends_everything_at_once_is_not_late():
    """Every facility's weeks arrive within seconds: nobody is later than the others."""
    frame = arrivals({})
    frame["arrival"] = 5e6 - frame["hour"] * 3600 + frame["fac"] * 0.01 + (frame["hour"] - 1000) * 0.02
    found = lateness(frame, np.full(4, 24.0), 3)
    assert all(v.late == 0 for v in found.values())


def replay(late_fac: int | None, jitter_s: float = 0.0) -> pd.DataFrame:
    """Exact arrivals (received_ms) of 240 hours replayed in 12 s; ``late_fac``'s first 120 hours come after all."""
    frame = arrivals({}).assign(uncertainty=0.0)
    wall = 5e6 + (frame["hour"] - 1000) * 0.05 + frame["fac"] * jitter_s
    if late_fac is not None:
        wall = np.where((frame["fac"] == late_fac) & (frame["hour"] < 1120), 5e6 + 12.5, wall)
    frame["arrival"] = wall - frame["hour"] * 3600
    return frame


def test_an_exact_replay_shows_the_upload_that_came_after_everything_else():
    """In a replay, the late upload is only seconds behind in wall time, but its receive times are exact."""
    found = lateness(replay(3), np.full(4, 24.0), 3)
    assert found[3].late > 100  # the hours within a second (20 h of data) of the end are not counted
    assert all(found[f].late == 0 for f in range(3))
    estimated = lateness(replay(3).assign(uncertainty=integrity_days.ESTIMATE_UNCERTAINTY_S), np.full(4, 24.0), 3)
    assert estimated[3].late == 0  # the same replay without received_ms: within a slot's uncertainty


def test_an_exact_replay_with_jitter_under_a_second_is_not_late():
    """Facility 3 is 0.45 s behind the median, 9 hours of data at this pace (over 6 h), yet not late."""
    found = lateness(replay(None, jitter_s=0.3), np.full(4, 6.0), 3)
    assert all(v.late == 0 for v in found.values())


def test_day_checks_from_sensor_slots():
    f = facility(opening_hours={"mon": ["09:00-17:00"]})
    grid = figures.grid_frame([(slot_grid(f, MON, MON), MON.toordinal())])
    start = slot_of(MON, 9)
    rows = []
    for k in range(32):
        flat = 37.0 if 4 <= k < 29 else float(k % 5)  # 25 slots at 37
        rows.append((0, 1, start + k, flat, 1.0, 1.0, 600_000.0))
        rows.append((0, 2, start + k, float(k % 7), 1.0, 1.0, 600_000.0))
    readings = pd.DataFrame(rows, columns=["fac", "sensor", "slot", "occ_mean", "entries", "exits", "delay"])
    checks, fps, arrived = integrity_days.day_checks(grid, readings)
    row = checks.loc[(0, MON.toordinal())]
    assert row["flat_slots"] == 25
    assert row["flat_value"] == 37.0
    assert row["unexplained"] > 0  # 37 out of nowhere, and down again, with one entry and exit a slot
    assert row["exits_sum"] == 64
    assert row["round_base"] > 0
    assert len(fps) == 2
    assert fps["fp"].nunique() == 2
    assert len(arrived) == 8
    assert np.allclose(arrived["arrival"], 450 + 600 + np.array([0, 1, 2, 3]).mean() * 900)
    assert (arrived["uncertainty"] == integrity_days.ESTIMATE_UNCERTAINTY_S).all()  # no received_ms: estimated
    received = (readings["slot"] * 900 + 17) * 1000.0  # 17 s after each slot's start, whatever the delay says
    _, _, exact = integrity_days.day_checks(grid, readings.assign(received=received))
    assert np.allclose(exact["arrival"], 17 + np.array([0, 1, 2, 3]).mean() * 900)
    assert (exact["uncertainty"] == 0).all()
