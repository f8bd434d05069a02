"""day_summaries sums a day without any reading from its slot count alone: the same Days as the full sums."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.analysis import figures
from analytics.analysis.schedule import slot_grid
from tests.unit.analytics.helpers import facility

FIRST = date(2025, 10, 6)
HOURS = {d: ["08:00-12:00", "14:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def full_sums(open_slots: pd.DataFrame, readings: pd.DataFrame) -> figures.Days:
    """Every day through the full sums, as day_summaries did for all days before."""
    keys = (open_slots["fac"].to_numpy(np.int64) << 32) | open_slots["slot"].to_numpy(np.int64)
    aligned = figures.slot_totals(readings).reindex(keys)
    return figures._summed(open_slots, readings, aligned, np.nan_to_num(aligned["n"].to_numpy(np.float64)))


def grid(count: int, days: int) -> pd.DataFrame:
    grids = [(slot_grid(facility(f"f-{i}", opening_hours=HOURS), FIRST, FIRST + timedelta(days=days - 1)),
              FIRST.toordinal()) for i in range(count)]
    frame = figures.grid_frame(grids)
    return frame[~frame["closed"].to_numpy()].reset_index(drop=True)


def some_readings(open_slots: pd.DataFrame, share_of_days: float, seed: int) -> pd.DataFrame:
    """Readings (two sensors, some fields missing, some zeros) in the slots of a share of the (fac, day)s."""
    rng = np.random.default_rng(seed)
    pairs = open_slots[["fac", "day"]].drop_duplicates()
    chosen = pairs[rng.random(len(pairs)) < share_of_days]
    slots = open_slots.merge(chosen, on=["fac", "day"])
    slots = slots[rng.random(len(slots)) < 0.7]
    rows = pd.concat([slots.assign(sensor=s) for s in (1, 2)], ignore_index=True)
    count = len(rows)

    def field(missing: float) -> np.ndarray:
        values = np.round(rng.random(count) * 40, 3) * (rng.random(count) > 0.2)
        return np.where(rng.random(count) < missing, np.nan, values)

    return pd.DataFrame({"fac": rows["fac"].to_numpy(np.int64), "sensor": rows["sensor"].to_numpy(np.int64),
                         "slot": rows["slot"].to_numpy(np.int64), "occ_mean": field(0.1), "entries": field(0.3),
                         "exits": field(0.3), "uses": field(0.6), "delay": field(0.5), "received": field(0.5)})


def assert_same(got: figures.Days, want: figures.Days) -> None:
    pd.testing.assert_frame_equal(got.table, want.table)
    pd.testing.assert_frame_equal(got.checks, want.checks)
    for name in ("peaks", "prints", "arrivals"):
        pd.testing.assert_frame_equal(getattr(got, name).reset_index(drop=True),
                                      getattr(want, name).reset_index(drop=True))


@pytest.mark.parametrize(("share", "seed"), [(0.0, 1), (0.3, 2), (0.7, 3), (1.0, 4)])
def test_days_with_and_without_readings_sum_up_as_the_full_sums_do(share: float, seed: int) -> None:
    open_slots = grid(5, 9)
    readings = some_readings(open_slots, share, seed)
    got = figures.day_summaries(open_slots, readings)
    assert len(got.table) == 45
    assert_same(got, full_sums(open_slots, readings))


def test_a_day_whose_readings_are_all_empty_still_counts_as_covered() -> None:
    """A reading row with no values covers its slot: only a day with no row at all takes the short way."""
    open_slots = grid(2, 2)
    readings = some_readings(open_slots, 1.0, 5).assign(occ_mean=np.nan, entries=np.nan, uses=np.nan)
    got = figures.day_summaries(open_slots, readings)
    assert (got.table["covered_slots"] > 0).all()
    assert_same(got, full_sums(open_slots, readings))
