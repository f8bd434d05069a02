"""near_copy: another facility's series with noise added, shifted, or scaled — compared by shape, not bytes. Pure.

Each facility's hourly peaks become residuals: the peak minus the facility's own profile for that weekday and
hour, that profile scaled to the day's level first (so a busy day, or weather shared with the neighbours, is
taken out). What remains is the facility's own visitors, hour by hour; two honest facilities' residuals do not
agree, a copy's do, whatever noise or factor was put on top. Correlations are taken at lags of -1, 0 and +1 hour
(a copy shifted by 15-60 minutes).

Cheap for thousands of facilities: candidate pairs come first from coarse signatures (the residuals summed in
6-hour blocks, one matrix product over all facilities); only the best few candidates of each facility are
compared hour by hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from itertools import pairwise

import numpy as np

from analytics.analysis.model import Detector, Finding
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import OwnDays, decimal
from facmon.core.i18n import _

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # local hours (schedule.SlotGrid) count from its midnight
BLOCK_HOURS = 6
CANDIDATE_MIN = 0.3  # coarse correlation a pair needs to be compared hour by hour (copies reach ~0.7 and more)
CANDIDATES = 5  # per facility, the best coarse matches compared hour by hour
LAGS = (-1, 0, 1)
CHUNK_ROWS = 512  # facilities per block of the coarse correlation matrix (512 x 20,000 floats = 80 MB)
CHUNK_FACILITIES = 2000  # facilities whose residuals are worked out together


def residuals(own: OwnDays, hour: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(matrix facilities x hours of the run, observed mask, first hour): each facility's residuals scaled to
    unit length, 0 where it has no data. Worked out CHUNK_FACILITIES facilities at a time (each facility's
    profile and levels are its own sums, in its rows' order), so a province's temporaries stay a chunk's."""
    peaks = own.peaks
    first = int(hour.min())
    width = int(hour.max()) - first + 1
    matrix = np.zeros((own.count, width), np.float64)
    observed = np.zeros((own.count, width), bool)
    for start in range(0, own.count, CHUNK_FACILITIES):
        low, high = int(peaks.bounds[start]), int(peaks.bounds[min(start + CHUNK_FACILITIES, own.count)])
        if low == high:
            continue
        fac, day, value = peaks.fac[low:high], peaks.day[low:high], peaks["peak"][low:high]
        column = hour[low:high] - first
        matrix[fac, column] = _residual(fac, day, value, hour[low:high])
        observed[fac, column] = True
    for start in range(0, own.count, CHUNK_ROWS):
        rows = matrix[start : start + CHUNK_ROWS]
        norm = np.sqrt((rows**2).sum(axis=1))
        rows /= np.where(norm > 0, norm, 1.0)[:, None]
    return matrix, observed, first


def _residual(fac: np.ndarray, day: np.ndarray, value: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Each peak minus its facility's profile for that weekday and hour, the profile scaled to the day's level."""
    of_day = hour - (day - _EPOCH_ORDINAL) * 24  # local hour of the day (past 23 after midnight)
    # The facility's profile: mean peak per (weekday, hour of day) over the window.
    key = (fac * 7 + day % 7) * 64 + np.clip(of_day, 0, 63)
    _keys, slot_of, sizes = np.unique(key, return_inverse=True, return_counts=True)
    profile = (np.bincount(slot_of, weights=value) / sizes)[slot_of]
    # Scaled to each day's level: p - f * profile, f = day's sum / profile's sum.
    _, day_of = np.unique(fac * 1_000_000 + (day - day.min()), return_inverse=True)
    level = np.bincount(day_of, weights=value) / np.maximum(np.bincount(day_of, weights=profile), 1e-9)
    residual: np.ndarray = value - level[day_of] * profile
    return residual


def near_copy(own: OwnDays, ids: Sequence[str], limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Facilities whose hour-by-hour residuals follow another facility's (codes = positions in ``ids``)."""
    peaks = own.peaks
    if own.count < 2 or not len(peaks) or "hour" not in peaks.columns:
        return {}
    matrix, observed, _levels = residuals(own, peaks["hour"].astype(np.int64))
    width = matrix.shape[1]
    blocks = -(-width // BLOCK_HOURS)
    coarse = np.empty((own.count, blocks))
    for start in range(0, own.count, CHUNK_ROWS):  # the residuals summed per block of hours, a chunk at a time
        rows = matrix[start : start + CHUNK_ROWS]
        padded = np.zeros((len(rows), blocks * BLOCK_HOURS))
        padded[:, :width] = rows
        coarse[start : start + len(rows)] = padded.reshape(len(rows), blocks, BLOCK_HOURS).sum(axis=2)
    coarse -= coarse.mean(axis=1, keepdims=True)
    norm = np.sqrt((coarse**2).sum(axis=1))
    coarse /= np.where(norm > 0, norm, 1.0)[:, None]
    best: dict[int, tuple[float, int, int, int]] = {}
    pairs = sorted(candidates(coarse))
    for (a, b), (r, lag, n) in zip(pairs, _best_pairs(matrix, observed, pairs), strict=True):
        for me, other, shift in ((a, b, lag), (b, a, -lag)):
            if n >= limits[me].near_copy_min_hours and r >= limits[me].near_copy_min_corr - 1e-9 and (
                    me not in best or r > best[me][0]):
                best[me] = (r, other, shift, n)
    found: dict[int, Finding] = {}
    for code, (r, other, shift, n) in sorted(best.items()):
        check = limits[code]
        if shift == 0:
            when = _("at the same hour")
        else:
            when = (_("{hours} h later") if shift > 0 else _("{hours} h earlier")).format(hours=abs(shift))
        reason = _("follows {other} hour by hour once each facility's own daily and weekly profile is taken out: "
                   "correlation {r} {when} over {hours} hours (≥ {min_r:g} over ≥ {min_hours} hours; independent "
                   "crowds stay lower); a copy with noise, shift or scaling does this; both are flagged: the data "
                   "cannot tell which of the two is the copy").format(
            other=ids[other], r=decimal(r, 2), when=when, hours=n, min_r=check.near_copy_min_corr,
            min_hours=check.near_copy_min_hours)
        found[code] = Finding(Detector.NEAR_COPY, reason, {"same_as": ids[other], "correlation": round(r, 3),
                                                           "lag_hours": shift, "hours": n,
                                                           "min_corr": check.near_copy_min_corr})
    return found


def candidates(coarse: np.ndarray, rows: int = CHUNK_ROWS) -> set[tuple[int, int]]:
    """Pairs (a < b) where b is among a's CANDIDATES best coarse matches (or a among b's) at CANDIDATE_MIN or
    more; a match tied with the last of the best is a candidate too.

    The correlation matrix of a province (20,000 x 20,000) would take 3 GB: it is made ``rows`` rows at a time,
    and only the few matches at CANDIDATE_MIN or more of each row are ranked.
    """
    count = len(coarse)
    if count < 2:
        return set()
    keep = min(CANDIDATES, count - 1)
    finite = bool(np.isfinite(coarse).all())
    pairs: set[tuple[int, int]] = set()
    for start in range(0, count, rows):
        gram = coarse[start : start + rows] @ coarse.T
        own = np.arange(start, start + len(gram))
        gram[own - start, own] = -1.0
        if finite:
            row, other = _best_matches(gram, keep)
        else:  # NaN would rank below everything in a whole row's ranking: keep that ranking
            cut = -np.partition(-gram, keep - 1, axis=1)[:, keep - 1]
            row, other = np.nonzero((gram >= cut[:, None]) & (gram >= CANDIDATE_MIN))
        a = row + start
        pairs.update(zip(np.minimum(a, other).tolist(), np.maximum(a, other).tolist(), strict=True))
    return pairs


def _best_matches(gram: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of each row's ``keep`` largest values at CANDIDATE_MIN or more, and of the values tied with
    the last of those: a row's ``keep``-th largest value is its ``keep``-th largest match when it has more than
    ``keep`` matches, else at most its smallest match (no NaN in ``gram``)."""
    row, other = np.nonzero(gram >= CANDIDATE_MIN)
    counts = np.bincount(row, minlength=len(gram))
    crowded = counts[row] > keep
    if not crowded.any():
        return row, other
    values = gram[row[crowded], other[crowded]]
    ranked = np.lexsort((-values, row[crowded]))  # by row, then largest first
    firsts = np.flatnonzero(np.diff(row[crowded][ranked], prepend=-1))
    cut = np.full(len(gram), -np.inf)
    cut[row[crowded][ranked[firsts]]] = values[ranked[firsts + keep - 1]]
    chosen = gram[row, other] >= cut[row]
    return row[chosen], other[chosen]


def _correlations(matrix: np.ndarray, observed: np.ndarray, a: np.ndarray, b: np.ndarray, lag: int,
                  cells: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """(correlation, hours) for every i: the correlation of row a[i]'s hour t with row b[i]'s hour t + lag over
    the hours both observed, and how many (0 and 0 without any). The pairs are taken a number of common hours at
    a time, each pair's common hours packed into one row, so that every sum is numpy's sum of the same values in
    the same order as for that pair's values alone (the same bits); at most about ``cells`` values at once."""
    width = matrix.shape[1] - abs(lag)
    r, n = np.zeros(len(a)), np.zeros(len(a), np.int64)
    if width <= 0 or not len(a):
        return r, n
    at_a, at_b = max(0, -lag), max(0, lag)  # a's hour t + at_a beside b's hour t + at_b

    def common(pairs: np.ndarray) -> np.ndarray:
        both: np.ndarray = (observed[a[pairs], at_a : at_a + width]) & (observed[b[pairs], at_b : at_b + width])
        return both

    step = max(1, cells // width)
    for first in range(0, len(a), step):
        part = np.arange(first, min(first + step, len(a)))
        n[part] = common(part).sum(axis=1)
    order = np.argsort(n, kind="stable")
    bounds = np.flatnonzero(np.diff(n[order], prepend=-1, append=-1)).tolist()
    for low, high in pairwise(bounds):
        hours = int(n[order[low]])
        if not hours:
            continue  # no common hour: correlation 0
        step = max(1, cells // max(width, hours))
        for first in range(low, high, step):
            part = order[first : min(first + step, high)]
            columns = np.nonzero(common(part))[1].reshape(len(part), hours)
            x = matrix[a[part][:, None], columns + at_a]
            y = matrix[b[part][:, None], columns + at_b]
            x = x - x.mean(axis=1, keepdims=True)
            y = y - y.mean(axis=1, keepdims=True)
            scale = np.sqrt((x**2).sum(axis=1) * (y**2).sum(axis=1))
            products = (x * y).sum(axis=1)
            r[part] = np.where(scale > 0, products / np.where(scale > 0, scale, 1.0), 0.0)
    return r, n


def _best_pairs(matrix: np.ndarray, observed: np.ndarray, pairs: Sequence[tuple[int, int]]
                ) -> list[tuple[float, int, int]]:
    """For each pair (a, b): (correlation, lag, hours) where a and b agree best (_combine), the correlations of
    all pairs computed together."""
    if not pairs:
        return []
    a, b = (np.array(side, np.int64) for side in zip(*pairs, strict=True))
    single = {lag: _correlations(matrix, observed, a, b, lag) for lag in LAGS}
    own = np.unique(b)
    steps = dict(zip(own.tolist(), _correlations(matrix, observed, own, own, 1)[0].tolist(), strict=True))
    found = []
    by_lag = {lag: (r.tolist(), n.tolist()) for lag, (r, n) in single.items()}
    for i, other in enumerate(b.tolist()):
        found.append(_combine({lag: (r[i], n[i]) for lag, (r, n) in by_lag.items()}, steps[other]))
    return found


def _combine(single: dict[int, tuple[float, int]], step: float) -> tuple[float, int, int]:
    """(correlation, lag, hours) from the correlations and common hours at each lag and b's own lag-1
    correlation ``step``: where a and b agree best, at one lag, or at two neighbouring lags together (the
    multiple correlation of a with b's hours t and t + 1: a copy shifted by half an hour mixes two hours), the
    lag then being the nearer one."""
    r, lag = max((single[lag][0], lag) for lag in LAGS)
    n = single[lag][1]
    for low, high in pairwise(LAGS):
        r0, r1 = single[low][0], single[high][0]
        if r0 <= 0 or r1 <= 0 or abs(step) >= 0.99:
            continue
        both = math.sqrt(max(0.0, (r0**2 + r1**2 - 2 * r0 * r1 * step) / (1 - step**2)))
        if both > r:
            r, lag = min(both, 1.0), low if r0 >= r1 else high
            n = min(single[low][1], single[high][1])
    return r, lag, n
