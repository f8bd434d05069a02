"""Quarter hours from readings (analytics.analysis.buckets): InfluxDB's arithmetic, step by step. That they equal
InfluxDB's own answers to the last bit is tested against the server (tests/integration/analytics/
test_quarter_hours.py)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.analysis.buckets import ALL_FIELDS, VALUE_COLUMNS, quarter_hours
from analytics.analysis.schedule import SLOT_NS

T0 = 1_760_000_400 * 10**9  # a quarter hour


def _sequential(values: list[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


def test_sums_and_means_add_in_time_order_one_by_one():
    rng = np.random.default_rng(7)
    per_bucket = 60
    awkward = np.array([0.1, 0.2, 0.3, 1e-17, 1e16, -1e16, 1 / 3, 7.000000000000001])
    values = np.concatenate([rng.choice(awkward, per_bucket // 2), rng.uniform(-1e3, 1e3, per_bucket // 2)])
    values = np.tile(values, 8)
    rng.shuffle(values)
    slots = np.repeat(np.arange(8), per_bucket)
    times = T0 + slots * SLOT_NS + np.tile(np.arange(per_bucket) * 10**9, 8)
    backwards = np.arange(len(times))[::-1]  # handed over in reverse: still added in time order
    frame = quarter_hours(np.zeros(len(times), np.int64)[backwards], np.full(len(times), 5)[backwards],
                          times[backwards], {"entries": values[backwards], "occupancy": values[backwards]})
    assert frame["slot"].tolist() == [T0 // SLOT_NS + s for s in range(8)]
    chunks = [values[i * per_bucket : (i + 1) * per_bucket].tolist() for i in range(8)]
    assert frame["entries"].tolist() == [_sequential(c) for c in chunks]
    assert frame["occ_mean"].tolist() == [_sequential(c) / len(c) for c in chunks]
    # numpy's own sums add in pairs: they differ somewhere, so the order above is what the test checks
    pairwise = np.add.reduceat(values, np.arange(0, len(values), per_bucket))
    assert (pairwise != frame["entries"].to_numpy()).any()
    assert frame["fac"].tolist() == [0] * 8
    assert frame["sensor"].tolist() == [5] * 8
    assert frame["uses"].isna().all()


def test_fill_none_no_row_for_an_empty_quarter_nan_for_a_field_without_values():
    nan = np.nan
    times = np.array([T0, T0 + SLOT_NS - 1, T0 + SLOT_NS, T0 + 3 * SLOT_NS, T0 + 3 * SLOT_NS + 5, T0 + 4 * SLOT_NS])
    frame = quarter_hours(
        np.array([0, 0, 0, 0, 0, 1]), np.array([1, 1, 1, 1, 1, 1]), times,
        {"occupancy": np.array([1.0, 2.0, nan, 4.0, 6.0, nan]), "entries": np.array([nan, nan, 3.0, 1.0, nan, nan]),
         "received_ms": np.array([10.0, 20.0, 30.0, 40.0, 50.0, nan])})
    base = T0 // SLOT_NS
    # the quarter at +2 is empty, and facility 1's only reading has none of the fields: no row for either
    assert list(zip(frame["fac"], frame["slot"] - base, strict=True)) == [(0, 0), (0, 1), (0, 3)]
    assert frame["occ_mean"].tolist()[0] == 1.5
    assert np.isnan(frame["occ_mean"].tolist()[1])
    assert frame["entries"].tolist()[1:] == [3.0, 1.0]
    assert np.isnan(frame["entries"].tolist()[0])
    assert frame["received"].tolist() == [15.0, 30.0, 45.0]
    assert frame["delay"].isna().all()
    assert list(frame.columns) == ["fac", "sensor", "slot", *VALUE_COLUMNS]
    assert [str(t) for t in frame.dtypes] == ["int64"] * 3 + ["float64"] * len(VALUE_COLUMNS)


def test_sensors_and_facilities_are_separate_series():
    times = np.array([T0, T0, T0, T0 + 1])
    frame = quarter_hours(np.array([0, 0, 1, 0]), np.array([1, 2, 1, 1]), times,
                          {"uses": np.array([1.0, 10.0, 100.0, 1000.0])})
    assert list(zip(frame["fac"], frame["sensor"], frame["uses"], strict=True)) == [
        (0, 1, 1001.0), (0, 2, 10.0), (1, 1, 100.0)]
    assert len(quarter_hours(np.empty(0), np.empty(0), np.empty(0), {f: np.empty(0) for f in ALL_FIELDS})) == 0


def test_mismatched_arrays_and_unknown_fields_are_named_at_once():
    with pytest.raises(ValueError, match=r"sensor has 1 values for 2 readings; .*occupancy has 3 .*unknown field 'x'"):
        quarter_hours(np.zeros(2), np.zeros(1), np.array([T0, T0]),
                      {"occupancy": np.zeros(3), "x": np.zeros(2)})
