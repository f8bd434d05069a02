"""Second-generation own-days detectors, for the forger who adds noise: no_memory, similar_days, digit_preference.
Pure.

Like integrity.series they judge every facility of a run at once from the current window's open days (the day
values of integrity.days and the hourly peaks), so they work from the rollup alike. similar_days judges a facility
against the other facilities of its type in the run, not against a fixed tolerance: how alike honest days are
depends on the crowd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from analytics.analysis.model import Detector, Finding
from analytics.integrity.days import DIGIT_COLUMNS, DIGIT_MIN_VALUE
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import COPY_MIN_HOURS, OwnDays, _firsts, _limit, decimal, number, percent, stable_days
from facmon.core.i18n import CHINESE, _, current
from sensors.facility_types import display_type

DIGITS = 10


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with ``df`` degrees of freedom: the regularized upper incomplete gamma
    Q(df/2, statistic/2), in closed form (a finite sum; an erfc term for odd df), exact to float precision."""
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= half / k
            total += term
        return min(1.0, math.exp(-half) * total)
    term, total = math.sqrt(statistic) * math.sqrt(2 / math.pi), 0.0
    for k in range(1, (df - 1) // 2 + 1):
        total += term
        term *= statistic / (2 * k + 1)
    return min(1.0, math.erfc(math.sqrt(half)) + math.exp(-half) * total)


def memory(own: OwnDays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per facility code: the lag-1 autocorrelation of quarter-hour occupancy estimated from its changes,
    gamma(2) / gamma(1) - 1 with gamma(k) the mean squared change over k slots (0 for numbers drawn
    independently, about the autocorrelation for people who stay, higher with a daily rhythm); the pairs counted;
    and the mean occupancy over them."""
    checks = own.checks
    one, two = checks.sums("step1_sq"), checks.sums("step2_sq")
    n1, n2 = checks.sums("step1_n"), checks.sums("step2_n")
    level = np.divide(checks.sums("step_level"), n1, out=np.zeros(own.count), where=n1 > 0)
    gamma1 = np.divide(one, n1, out=np.zeros(own.count), where=n1 > 0)
    gamma2 = np.divide(two, n2, out=np.zeros(own.count), where=n2 > 0)
    estimate = np.divide(gamma2, gamma1, out=np.full(own.count, np.nan), where=gamma1 > 0) - 1
    return estimate, n1, level


def no_memory_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Occupancy that forgets from one quarter hour to the next: people stay an hour or two, so real occupancy
    changes smoothly; numbers drawn afresh each quarter hour jump as much in 15 minutes as in 30."""
    estimate, pairs, level = memory(own)
    fires = ((pairs >= _limit(limits, "memory_min_pairs")) & (level >= _limit(limits, "memory_min_people"))
             & (estimate < _limit(limits, "memory_max")))
    found: dict[int, Finding] = {}
    for code in np.flatnonzero(fires).tolist():
        check, value = limits[code], float(estimate[code])
        reason = _("occupancy has no memory: lag-1 autocorrelation {value} over {pairs} quarter-hour pairs at "
                   "{people} people on average (< {limit:g}; honest sensors here give 0.45 or more); it cannot tell "
                   "a forger from a sensor that resets each reading").format(
            value=decimal(value, 2), pairs=decimal(int(pairs[code])),
            people=number(round(float(level[code]), 1)), limit=check.memory_max)
        found[code] = Finding(Detector.NO_MEMORY, reason, {"lag1_autocorrelation": round(value, 3),
                                                           "pairs": int(pairs[code]),
                                                           "mean_occupancy": round(float(level[code]), 1),
                                                           "max": check.memory_max})
    return found


def digit_preference_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Last digits of occupancies that favour some digits: people typing numbers prefer 0 and 5. A chi-square
    test against uniform, on values of at least 20 (where the last digit of a real count is noise) whose standard
    deviation reaches digit_min_spread (a stable group of 23 to 25 people ends in 3, 4 and 5, honestly)."""
    counts = np.stack([own.checks.sums(name) for name in DIGIT_COLUMNS], axis=1)
    total = counts.sum(axis=1)
    safe = np.maximum(total, 1.0)
    mean = own.checks.sums("digit_sum") / safe
    spread = np.sqrt(np.maximum(own.checks.sums("digit_sq") / safe - mean**2, 0.0))
    found: dict[int, Finding] = {}
    judged = (total >= _limit(limits, "digit_min_values")) & (spread >= _limit(limits, "digit_min_spread"))
    for code in np.flatnonzero(judged).tolist():
        check, n = limits[code], float(total[code])
        expected = n / DIGITS
        statistic = float(((counts[code] - expected) ** 2).sum() / expected)
        p_value = chi_square_sf(statistic, DIGITS - 1)
        shares = counts[code] / n
        distance = float(np.abs(shares - 1 / DIGITS).sum() / 2)
        if p_value >= check.digit_max_p or distance < check.digit_min_distance - 1e-9:
            continue
        favoured = np.argsort(-shares, kind="stable")[:2].tolist()
        reason = _("last digits not uniform: {first_share} of {values} occupancies ≥ {min_value} end in {first} and "
                   "{second_share} in {second} ({expected} each expected; chi-square {statistic}, p = {p:.1e} < "
                   "{limit:g}); typed-in numbers do this, a real counter does not, but it cannot tell who typed "
                   "them").format(
            first_share=percent(shares[favoured[0]]), values=number(n), min_value=DIGIT_MIN_VALUE, first=favoured[0],
            second_share=percent(shares[favoured[1]]), second=favoured[1], statistic=decimal(statistic),
            p=p_value, limit=check.digit_max_p, expected=percent(1 / DIGITS))
        found[code] = Finding(Detector.DIGIT_PREFERENCE, reason, {
            "values": int(n), "chi_square": round(statistic, 1), "p_value": float(f"{p_value:.3g}"),
            "distance": round(distance, 3), "share_0_or_5": round(float(shares[0] + shares[5]), 3),
            "spread": round(float(spread[code]), 1),
            "max_p": check.digit_max_p})
    return found


def nearest_day_distance(own: OwnDays, limits: Sequence[IntegrityThresholds]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per facility code: the median over its compared days of the distance from the day's hourly peaks to the
    nearest other day with as many hours (sum of |differences| / sum of the larger peaks: 0 for a copy), NaN
    with fewer than similar_min_days compared days; how many days were compared; and the mean hourly peak of
    those days (the crowd's size). Days as copied_days picks them (6 or more hours in use, a peak of
    copy_min_people or more, not a stable group's)."""
    peaks = own.peaks
    median, compared = np.full(own.count, np.nan), np.zeros(own.count, np.int64)
    level = np.zeros(own.count)
    if not len(peaks):
        return median, compared, level
    values = peaks["peak"]
    starts = _firsts(peaks.fac, peaks.day)
    hours = np.diff(np.append(starts, len(values)))
    fac = peaks.fac[starts]
    high, low = np.maximum.reduceat(values, starts), np.minimum.reduceat(values, starts)
    used = np.add.reduceat((values != 0).astype(np.int64), starts)
    day_ok = (used >= COPY_MIN_HOURS) & (high >= _limit(limits, "copy_min_people")[fac]) & (high > low)
    day_ok &= ~stable_days(own, limits, fac, peaks.day[starts])
    days = np.flatnonzero(day_ok)
    days = days[np.lexsort((hours[days], fac[days]))]
    nearest = np.full(len(starts), np.nan)
    for a, b in pairwise(np.append(_firsts(fac[days], hours[days]), len(days)).tolist()):
        if b - a < 2:
            continue
        group = days[a:b]
        vectors = values[starts[group][:, None] + np.arange(hours[group[0]])]
        diff = np.abs(vectors[:, None, :] - vectors[None, :, :]).sum(axis=2)
        scale = np.maximum(vectors[:, None, :], vectors[None, :, :]).sum(axis=2)
        distance = diff / np.where(scale > 0, scale, 1.0)
        np.fill_diagonal(distance, np.inf)
        nearest[group] = distance.min(axis=1)
    known = ~np.isnan(nearest)
    compared = np.bincount(fac[known], minlength=own.count)
    day_sum, day_hours = np.add.reduceat(values, starts), hours.astype(np.float64)
    level = np.bincount(fac[known], weights=day_sum[known], minlength=own.count) / np.maximum(
        np.bincount(fac[known], weights=day_hours[known], minlength=own.count), 1.0)
    wanted = np.flatnonzero(compared >= _limit(limits, "similar_min_days"))
    median[wanted] = _medians_of(fac[known], nearest[known], wanted, own.count)
    return median, compared, level


def _medians_of(codes: np.ndarray, values: np.ndarray, wanted: np.ndarray, count: int) -> np.ndarray:
    """For each facility code in ``wanted``, np.median of the ``values`` of that code (``codes`` sorted, as the
    days of a run are: each code's values are one slice, in their order)."""
    bounds = np.searchsorted(codes, np.arange(count + 1)).tolist()
    return np.array([np.median(values[bounds[code] : bounds[code + 1]]) for code in wanted.tolist()], np.float64)


def _median_without(ordered: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each position in ``at``: the median of the sorted values ``ordered`` without the one at that position,
    as np.median computes it (the middle value, or the mean of the two middle values); NaN when none is left."""
    rest = len(ordered) - 1
    if rest < 1:
        return np.full(len(at), np.nan)
    high = rest // 2  # the upper middle of what is left: ordered[high], or ordered[high + 1] if at lies at or below
    low = (rest - 1) // 2
    upper = ordered[np.where(at <= high, high + 1, high)]
    lower = ordered[np.where(at <= low, low + 1, low)]
    if rest % 2:
        return upper
    middle: np.ndarray = (lower + upper) / 2
    return middle


def _peer_medians(sized: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, int]:
    """For the facility codes ``members``: the median of ``sized`` over the other members (np.median of them),
    and how many others there are."""
    values = sized[members]
    order = np.argsort(values, kind="stable")
    at = np.empty(len(members), np.int64)
    at[order] = np.arange(len(members))
    ordered = values[order]
    if np.isnan(ordered).any():  # np.median of anything with NaN is NaN
        return np.full(len(members), np.nan), len(members) - 1
    return _median_without(ordered, at), len(members) - 1


def similar_days_all(own: OwnDays, limits: Sequence[IntegrityThresholds], types: Sequence[str]) -> dict[int, Finding]:
    """Days far more alike than the days of the same type's facilities in the run: copies of a template, or a
    weekly template, with noise added. Peers are compared at the facility's size: counting noise shrinks as
    1/√people, so a crowd of 100 honestly repeats itself more closely than a crowd of 20 (without this, every
    large busy facility looked forged); each peer's distance is scaled by √(its people / the facility's)."""
    distance, compared, level = nearest_day_distance(own, limits)
    return similar_days_of(distance, compared, level, limits, types)


def similar_days_of(distance: np.ndarray, compared: np.ndarray, level: np.ndarray,
                    limits: Sequence[IntegrityThresholds], types: Sequence[str]) -> dict[int, Finding]:
    """similar_days_all from each facility code's nearest_day_distance (median distance, days, level)."""
    known = ~np.isnan(distance) & (level > 0) & (level >= _limit(limits, "similar_min_people"))
    sized = np.where(known, distance * np.sqrt(np.maximum(level, 1e-9)), np.nan)
    judged = np.flatnonzero(known)
    kinds = np.array(types, dtype=object)[judged] if len(judged) else np.empty(0, dtype=object)
    # Each judged facility's peers: the others of its type, or the whole run's when its type has too few.
    everyone, run_peers = _peer_medians(sized, judged)
    reference_median, peer_count = everyone.copy(), np.full(len(judged), run_peers)
    by_type = np.zeros(len(judged), bool)
    need = _limit(limits, "similar_min_peers")[judged]
    for kind in dict.fromkeys(kinds.tolist()):
        rows = np.flatnonzero(kinds == kind)
        medians, others = _peer_medians(sized, judged[rows])
        enough = others >= need[rows]
        reference_median[rows[enough]], peer_count[rows[enough]] = medians[enough], others
        by_type[rows[enough]] = True
    found: dict[int, Finding] = {}
    for row, code in enumerate(judged.tolist()):
        check = limits[code]
        peers = int(peer_count[row])
        if peers < check.similar_min_peers:
            continue
        reference = float(reference_median[row]) / math.sqrt(float(level[code]))
        own_distance = float(distance[code])
        if not own_distance < check.similar_ratio * reference:
            continue
        if by_type[row]:
            # English keeps the code (the findings read the same as before); Chinese gets the type's built-in name.
            kind = display_type(types[code], CHINESE) if current() == CHINESE else types[code]
            basis = _("{type} facilities").format(type=kind)
        else:
            basis = _("facilities of the run")
        people = round(float(level[code]), 1)
        reason = _("days too alike: a day's hourly peaks differ from its nearest other day by {distance} (median "
                   "of {days} days, {people} people an hour on average), against {reference} for {peers} other "
                   "{basis} at that size (< {ratio} of that); a template with noise does this, it cannot prove one, "
                   "and a crowd steadier than its peers' looks the same").format(
            distance=percent(own_distance), days=int(compared[code]), people=number(people),
            reference=percent(reference), peers=peers, basis=basis, ratio=percent(check.similar_ratio))
        found[code] = Finding(Detector.SIMILAR_DAYS, reason, {
            "distance": round(own_distance, 4), "peer_distance": round(reference, 4), "days": int(compared[code]),
            "mean_peak": people, "peers": peers, "ratio": check.similar_ratio})
    return found
