"""Integrity detectors that look at one facility's own days: flat_line, copied_days, impossible_counts,
too_regular. Each returns a Finding with a one-line reason and its numbers, or None. Pure.

Inputs are the current window's open days (closure days apart) as analytics.figures and analytics.integrity_days
summarise them, so each check costs microseconds per facility and works from the rollup alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.integrity_rules import IntegrityThresholds
from analytics.model import Detector, Finding
from analytics.schedule import SLOTS_PER_HOUR

COPY_MIN_HOURS = 6  # fewer hourly peaks than this match by chance too often to call a day a copy
EXIT_SLACK_PEOPLE = 10  # a day's exits may exceed its entries by this many people plus exit_excess_share
ROUND_BASE = 5


@dataclass(frozen=True, slots=True)
class FacilityDays:
    """One facility's current window: ``table`` and ``checks`` indexed by day (figures.DAY_COLUMNS,
    integrity_days.CHECK_COLUMNS), ``peaks`` (day, peak) in hour order, and its closure-day activity."""

    capacity: int
    table: pd.DataFrame
    checks: pd.DataFrame
    peaks: pd.DataFrame
    closed_active_slots: int = 0
    closure_reasons: tuple[str, ...] = ()


def duration(slots: float) -> str:
    """Quarter hours as "6 h 15 min"."""
    minutes = round(slots * 60 / SLOTS_PER_HOUR)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def number(value: float) -> str:
    """People and counts: whole numbers plainly, others to one decimal."""
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def flat_line(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """The same non-zero occupancy from one sensor for hours on end, on several open days."""
    need = math.ceil(limits.flat_min_hours * SLOTS_PER_HOUR - 1e-9)
    hit = days.checks[days.checks["flat_slots"] >= need]
    if len(hit) < limits.flat_min_days:
        return None
    longest = hit.sort_values(["flat_slots", "flat_value"], ascending=False, kind="stable").iloc[0]
    value, slots = float(longest["flat_value"]), float(longest["flat_slots"])
    reason = (f"occupancy constant at {number(value)} for up to {duration(slots)} on {len(hit)} open days "
              f"(≥ {duration(need)} on ≥ {limits.flat_min_days} days)")
    return Finding(Detector.FLAT_LINE, reason, {"days": len(hit), "longest_hours": slots / SLOTS_PER_HOUR,
                                                "value": value, "min_hours": limits.flat_min_hours,
                                                "min_days": limits.flat_min_days})


def _alike_days(vectors: np.ndarray, tolerance: float) -> np.ndarray:
    """For days of equal length (rows), whether each has another day within tolerance at every hour (a share of
    the larger of the two peaks: an event hour near capacity must not widen the quiet hours' tolerance)."""
    diff = np.abs(vectors[:, None, :] - vectors[None, :, :])
    level = np.maximum(vectors[:, None, :], vectors[None, :, :])
    close = (diff <= tolerance * level + 1e-9).all(axis=2)
    np.fill_diagonal(close, False)
    return close.any(axis=1)


def copied_days(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """Days whose hourly peaks repeat another day's, exactly or within the tolerance."""
    if not len(days.peaks):
        return None
    by_day = days.peaks.groupby("day", sort=True)["peak"]
    shapes: dict[int, list[np.ndarray]] = {}
    for _, values in by_day:
        vector = values.to_numpy(np.float64)
        if (np.count_nonzero(vector) >= COPY_MIN_HOURS and vector.max() >= limits.copy_min_people
                and vector.max() > vector.min()):
            shapes.setdefault(len(vector), []).append(vector)
    compared = sum(len(group) for group in shapes.values())
    copied = sum(int(_alike_days(np.vstack(group), limits.copy_tolerance).sum())
                 for group in shapes.values() if len(group) > 1)
    if copied < limits.copy_min_days:
        return None
    reason = (f"daily profile repeated: the hourly peaks of {copied} of {compared} open days match another day's "
              f"within {percent(limits.copy_tolerance)} (≥ {limits.copy_min_days} days)")
    return Finding(Detector.COPIED_DAYS, reason, {"days": copied, "compared_days": compared,
                                                  "tolerance": limits.copy_tolerance,
                                                  "min_days": limits.copy_min_days})


def impossible_counts(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """Counts that cannot all be true: far above capacity, occupancy changes that entries and exits do not
    explain, days with far more exits than entries, people counted while closed on purpose."""
    parts: list[str] = []
    evidence: dict[str, float | int | str] = {}
    ceiling = limits.max_capacity_ratio * days.capacity
    over = days.peaks["peak"].to_numpy(np.float64)
    over = over[over > ceiling]
    if len(over) >= limits.over_capacity_min_hours:
        parts.append(f"occupancy above {percent(limits.max_capacity_ratio)} of capacity {days.capacity} in "
                     f"{len(over)} hours (highest {number(float(over.max()))})")
        evidence.update(over_capacity_hours=len(over), highest=float(over.max()))
    unexplained, moves = float(days.checks["unexplained"].sum()), float(days.checks["moves"].sum())
    allowed = max(limits.unexplained_min_people, limits.unexplained_share * moves)
    if unexplained > allowed:
        share = f"{percent(unexplained / moves)} of {number(moves)} counted" if moves else "none counted"
        parts.append(f"occupancy changed by {number(unexplained)} people more than entries and exits allow "
                     f"({share}; > {percent(limits.unexplained_share)})")
        evidence.update(unexplained_people=unexplained, counted_movements=moves)
    table = days.table.join(days.checks[["exits_sum", "exits_slots"]], how="inner")
    counted = table[(table["exits_slots"] > 0) & (table["entries_slots"] > 0)]
    excess = counted["exits_sum"] - counted["entries_sum"]
    bad = excess[excess > limits.exit_excess_share * counted["entries_sum"] + EXIT_SLACK_PEOPLE]
    if len(bad) >= limits.exit_excess_min_days:
        parts.append(f"exits exceeded entries by more than {percent(limits.exit_excess_share)} + "
                     f"{EXIT_SLACK_PEOPLE} on {len(bad)} days (up to {number(float(bad.max()))})")
        evidence.update(exit_excess_days=len(bad), largest_exit_excess=float(bad.max()))
    need = math.ceil(limits.closed_activity_min_hours * SLOTS_PER_HOUR - 1e-9)
    if days.closed_active_slots >= need:
        why = f" ({', '.join(days.closure_reasons)})" if days.closure_reasons else ""
        parts.append(f"activity on closure days{why} in {duration(days.closed_active_slots)} of opening hours")
        evidence.update(closed_activity_hours=days.closed_active_slots / SLOTS_PER_HOUR)
    if not parts:
        return None
    return Finding(Detector.IMPOSSIBLE_COUNTS, "; ".join(parts), evidence)


def _daily_totals(table: pd.DataFrame) -> tuple[pd.Series, str]:
    if (table["entries_slots"] > 0).any():
        return table["entries_sum"], "visits"
    if (table["uses_slots"] > 0).any():
        return table["uses_sum"], "uses"
    return table["occ_sum"] / table["occ_slots"].where(table["occ_slots"] > 0), "mean occupancy"


def too_regular(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """The same daily total day after day, or occupancies on multiples of 5 far more often than counts are."""
    parts: list[str] = []
    evidence: dict[str, float | int | str] = {}
    observed = days.table[days.table["covered_slots"] > 0]
    totals, what = _daily_totals(observed) if len(observed) else (pd.Series(dtype=float), "")
    totals = totals.dropna().round(1)
    totals = totals[totals > 0]
    if len(totals) >= limits.regular_min_days:
        counts = totals.value_counts()
        same, value = int(counts.iloc[0]), float(counts.index[0])
        if same >= max(2, limits.regular_same_share * len(totals) - 1e-9):
            parts.append(f"the same daily total ({number(value)} {what}) on {same} of {len(totals)} open days "
                         f"({percent(same / len(totals))} ≥ {percent(limits.regular_same_share)})")
            evidence.update(same_total_days=same, total=value, days_with_use=len(totals))
    hits, base = float(days.checks["round_hits"].sum()), float(days.checks["round_base"].sum())
    if base >= limits.regular_min_values and hits / base >= limits.regular_round_share - 1e-9:
        parts.append(f"{percent(hits / base)} of occupancy values of 10 or more are multiples of {ROUND_BASE} "
                     f"({number(hits)} of {number(base)}; ≥ {percent(limits.regular_round_share)}, real counts ~20%)")
        evidence.update(round_values=hits, whole_values=base)
    if not parts:
        return None
    return Finding(Detector.TOO_REGULAR, "; ".join(parts), evidence)
