"""The network integrity checks' fast paths (issue 18) give what the straightforward computation gives, to the bit:
similar_days' peer medians from sorted values against np.median of each facility's peers, the per-facility
median of nearest-day distances, near_copy's candidate ranking against ranking whole rows, and its correlations of
all pairs at once against one pair at a time. Inputs are random, with ties, NaN, empty and tiny groups."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from analytics.analysis.model import Detector, Finding
from analytics.integrity import near_copy as near_copy_module
from analytics.integrity import shape
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import OwnDays, Rows, _limit, percent


def test_the_median_without_one_value_is_np_median_of_the_others() -> None:
    rng = np.random.default_rng(18)
    for size in [*range(1, 12), 31, 64]:
        for values in (rng.integers(0, 4, size).astype(np.float64),  # many duplicates
                       rng.normal(size=size), np.full(size, 0.25)):
            ordered = np.sort(values)
            found = shape._median_without(ordered, np.arange(size))
            for at in range(size):
                rest = np.delete(ordered, at)
                expected = np.median(rest) if len(rest) else np.nan
                assert found[at] == expected or (np.isnan(found[at]) and np.isnan(expected)), (size, at)


def test_peer_medians_leave_out_each_member_itself() -> None:
    rng = np.random.default_rng(5)
    sized = rng.integers(0, 6, 40).astype(np.float64)
    members = np.array([3, 9, 10, 11, 20, 27, 33, 39])
    medians, others = shape._peer_medians(sized, members)
    assert others == len(members) - 1
    for i, code in enumerate(members.tolist()):
        assert medians[i] == np.median(sized[members[members != code]])
    sized[9] = np.nan
    assert np.isnan(shape._peer_medians(sized, members)[0]).all()


def _similar_days_reference(distance: np.ndarray, compared: np.ndarray, level: np.ndarray,
                            limits: Sequence[IntegrityThresholds], types: Sequence[str]) -> dict[int, Finding]:
    """similar_days as it was computed facility by facility: np.median over a mask of each facility's peers."""
    known = ~np.isnan(distance) & (level > 0) & (level >= _limit(limits, "similar_min_people"))
    sized = np.where(known, distance * np.sqrt(np.maximum(level, 1e-9)), np.nan)
    kinds = np.array(types, dtype=object)
    found: dict[int, Finding] = {}
    for code in np.flatnonzero(known).tolist():
        check = limits[code]
        peers = known & (kinds == types[code])
        peers[code] = False
        basis = f"{types[code]} facilities"
        if peers.sum() < check.similar_min_peers:
            peers = known.copy()
            peers[code] = False
            basis = "facilities of the run"
        if peers.sum() < check.similar_min_peers:
            continue
        reference = float(np.median(sized[peers])) / math.sqrt(float(level[code]))
        own_distance = float(distance[code])
        if not own_distance < check.similar_ratio * reference:
            continue
        people = round(float(level[code]), 1)
        found[code] = Finding(Detector.SIMILAR_DAYS, basis + " " + percent(reference), {
            "distance": round(own_distance, 4), "peer_distance": round(reference, 4), "days": int(compared[code]),
            "mean_peak": people, "peers": int(peers.sum()), "ratio": check.similar_ratio})
    return found


@pytest.mark.parametrize("count", [0, 1, 2, 3, 6, 7, 40, 301])
def test_similar_days_judges_each_facility_as_against_its_peers_one_by_one(count: int) -> None:
    rng = np.random.default_rng(count)
    lenient = IntegrityThresholds(similar_ratio=1.0, similar_min_peers=2, similar_min_people=0.0)
    kinds = [IntegrityThresholds(), IntegrityThresholds(similar_ratio=0.9, similar_min_peers=3), lenient]
    for round_ in range(4):
        choice = rng.integers(0, 3, count)
        limits = [kinds[c] for c in choice.tolist()]
        types = [("library", "gym", "pool", "rare")[t] for t in rng.choice(4, count, p=[0.5, 0.3, 0.18, 0.02])]
        distance = rng.integers(1, 6, count) / 20 if round_ % 2 else rng.uniform(0.01, 0.5, count)  # ties or not
        distance[rng.random(count) < 0.1] = np.nan
        level = rng.choice([0.0, 4.0, 9.0, 16.0, 30.5], count) if round_ < 2 else rng.uniform(0, 60, count)
        compared = rng.integers(7, 29, count)
        found = shape.similar_days_of(distance, compared, level, limits, types)
        expected = _similar_days_reference(distance, compared, level, limits, types)
        assert found.keys() == expected.keys()
        for code, finding in found.items():
            assert finding.evidence == expected[code].evidence, code
            basis, reference = expected[code].reason.split(" ", 1)[0], expected[code].reason.rsplit(" ", 1)[1]
            assert f"{reference} for {finding.evidence['peers']} other " in finding.reason
            assert ("of the run" in finding.reason) == (basis == "facilities"), (code, finding.reason)
        if count > 20 and round_ >= 2:
            assert expected, "the random data should make some facilities fire"


def test_each_facilitys_median_is_np_median_of_its_own_values() -> None:
    rng = np.random.default_rng(7)
    for count in (1, 2, 9, 50):
        codes = np.sort(rng.integers(0, count, 8 * count))
        values = rng.integers(0, 5, len(codes)) / 4 if count % 2 else rng.uniform(0, 1, len(codes))  # ties or not
        wanted = np.flatnonzero(np.bincount(codes, minlength=count) >= 3)
        found = shape._medians_of(codes, values, wanted, count)
        expected = [np.median(values[codes == code]) for code in wanted.tolist()]
        assert found.tolist() == expected
    assert shape._medians_of(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64), 3).shape == (0,)


def _random_peaks(rng: np.random.Generator, count: int) -> OwnDays:
    """Hourly peaks of ``count`` facilities (some without any), days of 5 to 9 hours, some copied, in random order."""
    rows = []
    for fac in range(count):
        if rng.random() < 0.15:
            continue
        template = rng.integers(0, 40, 9).astype(np.float64)
        for day in range(int(rng.integers(1, 20))):
            hours = int(rng.integers(5, 10))
            peaks = template[:hours] if rng.random() < 0.3 else rng.integers(0, 40, hours).astype(np.float64)
            rows += [(fac, 739_000 + day, value) for value in peaks.tolist()]
    frame = pd.DataFrame(rows, columns=["fac", "day", "peak"]).astype({"fac": np.int64, "day": np.int64})
    frame = frame.sample(frac=1, random_state=int(rng.integers(0, 1000))).sort_values(["fac", "day"], kind="stable")
    empty = pd.DataFrame({"x": np.empty(0)})
    none = Rows.of(np.empty(0, np.int64), np.empty(0, np.int64), empty, (), count)
    return OwnDays(np.full(count, 60, np.int64), none, none,
                   Rows.of(frame["fac"], frame["day"], frame, ("peak",), count),
                   np.zeros(count, np.int64), [()] * count)


@pytest.mark.parametrize("count", [1, 2, 5, 60])
def test_day_distances_of_a_run_are_those_of_each_facility_alone(count: int) -> None:
    """Each facility's median day distance, compared days and level in a run of many are what it gets alone."""
    rng = np.random.default_rng(100 + count)
    limits = [IntegrityThresholds(similar_min_days=2, copy_min_people=5)] * count
    own = _random_peaks(rng, count)
    found = shape.nearest_day_distance(own, limits)
    peaks = own.peaks
    for code in range(count):
        rows = slice(int(peaks.bounds[code]), int(peaks.bounds[code + 1]))
        alone = Rows(np.zeros(rows.stop - rows.start, np.int64), peaks.day[rows],
                     {"peak": peaks["peak"][rows]}, np.array([0, rows.stop - rows.start]))
        single = shape.nearest_day_distance(OwnDays(own.capacity[code : code + 1], own.table, own.checks, alone,
                                                    own.closed_active_slots[:1], [()]), limits[:1])
        np.testing.assert_array_equal([part[code] for part in found], [part[0] for part in single], str(code))
    assert (~np.isnan(found[0])).sum() >= count // 3


def _candidates_partition(coarse: np.ndarray, rows: int) -> set[tuple[int, int]]:
    """Candidate pairs from each whole row of the correlation matrix (made ``rows`` rows at a time, as near_copy
    makes it), its CANDIDATES-th largest value the cut (ties with it included), as near_copy ranked them before
    only the matches were ranked."""
    count = len(coarse)
    if count < 2:
        return set()
    keep = min(near_copy_module.CANDIDATES, count - 1)
    pairs: set[tuple[int, int]] = set()
    for start in range(0, count, rows):
        gram = coarse[start : start + rows] @ coarse.T
        own = np.arange(start, start + len(gram))
        gram[own - start, own] = -1.0
        cut = -np.partition(-gram, keep - 1, axis=1)[:, keep - 1]
        row, other = np.nonzero((gram >= cut[:, None]) & (gram >= near_copy_module.CANDIDATE_MIN))
        a = row + start
        pairs.update(zip(np.minimum(a, other).tolist(), np.maximum(a, other).tolist(), strict=True))
    return pairs


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 6, 7, 80, 400])
def test_ranking_only_the_matches_gives_the_pairs_of_whole_rows(count: int) -> None:
    rng = np.random.default_rng(count)
    for round_ in range(3):
        # Few distinct signatures make many equal correlations: ties at the cut.
        coarse = rng.integers(-1, 2, size=(count, 4 if round_ == 0 else 12)).astype(np.float64)
        if round_ == 2 and count:
            coarse = rng.normal(size=(count, 12))
            coarse[rng.integers(0, count, count // 3)] = coarse[0]  # copies of one facility
            coarse[: count // 10] = 0.0  # facilities without data
        coarse -= coarse.mean(axis=1, keepdims=True)
        coarse /= np.maximum(np.sqrt((coarse**2).sum(axis=1)), 1e-12)[:, None]
        for rows in (1, 3, 64, 10_000):
            expected = _candidates_partition(coarse, rows)
            assert near_copy_module.candidates(coarse, rows) == expected, (count, round_, rows)
            assert count < 80 or len(expected) > count // 2
    if count >= 3:
        coarse[1] = np.nan  # not finite: the rows are ranked whole, as before
        assert near_copy_module.candidates(coarse, 2) == _candidates_partition(coarse, 2)


def _correlation(a: np.ndarray, b: np.ndarray, seen_a: np.ndarray, seen_b: np.ndarray, lag: int) -> tuple[float, int]:
    """Correlation of a's hour t with b's hour t + lag over hours both observed, and how many: one pair."""
    if lag > 0:
        a, seen_a, b, seen_b = a[:-lag], seen_a[:-lag], b[lag:], seen_b[lag:]
    elif lag < 0:
        a, seen_a, b, seen_b = a[-lag:], seen_a[-lag:], b[:lag], seen_b[:lag]
    both = seen_a & seen_b
    n = int(both.sum())
    x, y = a[both], b[both]
    x, y = x - x.mean() if n else x, y - y.mean() if n else y
    scale = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return (float((x * y).sum()) / scale if scale > 0 else 0.0), n


def _best_one_pair(matrix: np.ndarray, observed: np.ndarray, a: int, b: int) -> tuple[float, int, int]:
    """near_copy's best agreement of a and b, their correlations taken one pair at a time."""
    lags = near_copy_module.LAGS
    single = {lag: _correlation(matrix[a], matrix[b], observed[a], observed[b], lag) for lag in lags}
    step, _hours = _correlation(matrix[b], matrix[b], observed[b], observed[b], 1)
    return near_copy_module._combine(single, step)


@pytest.mark.parametrize(("count", "width"), [(2, 1), (3, 2), (6, 5), (40, 30), (120, 200)])
def test_correlations_of_all_pairs_at_once_are_those_of_each_pair_to_the_bit(count: int, width: int) -> None:
    rng = np.random.default_rng(count * width)
    matrix = rng.normal(size=(count, width)) * 10.0 ** rng.integers(-3, 3, size=(count, 1))
    observed = rng.random((count, width)) < rng.uniform(0.2, 1.0, size=(count, 1))
    matrix[1] = 0.5 * matrix[0]  # a scaled copy
    observed[1] = observed[0]
    observed[count - 1] = False  # no data
    matrix[count // 2] = np.round(matrix[count // 2])  # repeated values
    if count > 3:
        matrix[2, 0] = np.nan
    pairs = sorted({(int(a), int(b)) for a, b in rng.integers(0, count, size=(4 * count, 2)).tolist()} | {(0, 1)})
    found = near_copy_module._best_pairs(matrix, observed, pairs)
    for (a, b), result in zip(pairs, found, strict=True):
        assert result == _best_one_pair(matrix, observed, a, b), (a, b)
        assert [type(v) for v in result] == [float, int, int]
    if width > 10:
        assert found[pairs.index((0, 1))][0] == pytest.approx(1.0)
    small = near_copy_module._correlations(matrix, observed, np.array([a for a, _ in pairs]),
                                           np.array([b for _, b in pairs]), 1, cells=7)
    assert [(float(r), int(n)) for r, n in zip(*small, strict=True)] == [
        _correlation(matrix[a], matrix[b], observed[a], observed[b], 1) for a, b in pairs]
    assert near_copy_module._best_pairs(matrix, observed, []) == []
