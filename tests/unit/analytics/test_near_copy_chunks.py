"""near_copy works a province's residuals out a chunk of facilities at a time: the same bits as all at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.integrity import near_copy
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import OwnDays, Rows

EPOCH = 719_163  # date(1970, 1, 1).toordinal()


def residuals_at_once(own: OwnDays, hour: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """near_copy.residuals as it was written, for every facility in one go."""
    peaks = own.peaks
    fac, day, value = peaks.fac, peaks.day, peaks["peak"]
    first = int(hour.min())
    column = hour - first
    width = int(column.max()) + 1
    of_day = hour - (day - EPOCH) * 24
    key = (fac * 7 + day % 7) * 64 + np.clip(of_day, 0, 63)
    _keys, slot_of, sizes = np.unique(key, return_inverse=True, return_counts=True)
    profile = (np.bincount(slot_of, weights=value) / sizes)[slot_of]
    _, day_of = np.unique(fac * 1_000_000 + (day - day.min()), return_inverse=True)
    level = np.bincount(day_of, weights=value) / np.maximum(np.bincount(day_of, weights=profile), 1e-9)
    residual = value - level[day_of] * profile
    matrix = np.zeros((own.count, width), np.float64)
    observed = np.zeros((own.count, width), bool)
    matrix[fac, column] = residual
    observed[fac, column] = True
    norm = np.sqrt((matrix**2).sum(axis=1))
    matrix /= np.where(norm > 0, norm, 1.0)[:, None]
    return matrix, observed, first


def hourly_peaks(count: int, seed: int) -> OwnDays:
    """Peaks of ``count`` facilities over 21 days (some facilities without any, some copying another's)."""
    rng = np.random.default_rng(seed)
    rows, series = [], {}
    for fac in range(count):
        if rng.random() < 0.15:
            continue
        source = int(rng.choice(list(series))) if series and rng.random() < 0.25 else None
        own = {}
        for day in range(20_400, 20_421):
            for of_day in range(8, 20):
                if source is not None:  # a copy: the source's hour, scaled, with noise
                    if (day, of_day) not in series[source]:
                        continue
                    value = series[source][day, of_day] * 1.2 + float(rng.normal(0, 1))
                elif of_day < 8 + int(rng.integers(4, 13)):
                    value = float(rng.integers(0, 60))
                else:
                    continue
                own[day, of_day] = value
                rows.append((fac, EPOCH + day, day * 24 + of_day, value))
        series[fac] = own
    frame = pd.DataFrame(rows, columns=["fac", "day", "hour", "peak"])
    return OwnDays(np.full(count, 80, np.int64), _none(count), _none(count),
                   Rows.of(frame["fac"], frame["day"], frame, ("peak", "hour"), count),
                   np.zeros(count, np.int64), [()] * count)


def _none(count: int) -> Rows:
    return Rows.of(np.empty(0, np.int64), np.empty(0, np.int64), pd.DataFrame({"x": np.empty(0)}), (), count)


@pytest.mark.parametrize(("count", "facilities", "rows"), [(1, 1, 1), (9, 2, 3), (40, 7, 5), (40, 2000, 512)])
def test_residuals_by_chunks_are_those_of_all_facilities_at_once(count: int, facilities: int, rows: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    own = hourly_peaks(count, seed=count)
    hour = own.peaks["hour"].astype(np.int64)
    want = residuals_at_once(own, hour)
    monkeypatch.setattr(near_copy, "CHUNK_FACILITIES", facilities)
    monkeypatch.setattr(near_copy, "CHUNK_ROWS", rows)
    got = near_copy.residuals(own, hour)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[2] == want[2]


def test_findings_do_not_depend_on_the_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    own = hourly_peaks(60, seed=7)
    ids = [f"f-{i:02d}" for i in range(60)]
    limits = [IntegrityThresholds(near_copy_min_hours=50)] * 60
    whole = near_copy.near_copy(own, ids, limits)
    assert len(whole) >= 4  # the copies are found
    monkeypatch.setattr(near_copy, "CHUNK_FACILITIES", 4)
    monkeypatch.setattr(near_copy, "CHUNK_ROWS", 3)
    assert near_copy.near_copy(own, ids, limits) == whole
