"""The data-integrity thresholds: defaults, and the per-type overrides of the rules file's ``integrity:`` key.

Each default sits well clear of what honest sensors produce (the simulator's honest profiles over the sample
county raise nothing, which a test checks), so a finding is worth an auditor's time.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from facmon.core.config import StrictModel

Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Hours = Annotated[float, Field(gt=0, le=24 * 366, allow_inf_nan=False)]
Days = Annotated[int, Field(ge=1, le=366)]


class IntegrityThresholds(StrictModel):
    """When each detector fires; see docs/analytics.md, *Data integrity*."""

    # flat_line: one sensor's occupancy the same non-zero value for flat_min_hours on flat_min_days open days
    flat_min_hours: Hours = 3.0
    flat_min_days: Days = 3
    # … unless a full house: the value at least flat_full_share of capacity, with door counts in the run showing
    # at least flat_min_turnover of those present coming and going per hour
    flat_full_share: Share = 0.9
    flat_min_turnover: float = Field(default=0.1, ge=0, le=100, allow_inf_nan=False)
    # copied_days: hourly peaks of copy_min_days days within copy_tolerance (share of the larger peak, hour by hour)
    # of another day's, counting days with 6 or more hours in use whose peak reaches copy_min_people
    copy_tolerance: Share = 0.05
    copy_min_days: Days = 4
    copy_min_people: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    # copied_days, similar_days and too_regular's same totals leave out a stable group's days (at least this share
    # of the hours in use within 15 % of the day's highest peak) and a full house's (3 h at flat_full_share)
    stable_plateau_share: Share = 0.6
    # clone: the same series as another facility (or two sensors of one) on clone_min_days days
    clone_min_days: Days = 3
    # impossible_counts
    max_capacity_ratio: float = Field(default=1.5, gt=1, le=100, allow_inf_nan=False)
    over_capacity_min_hours: Hours = 2.0
    unexplained_share: Share = 0.1  # occupancy changes beyond entries/exits, as a share of counted movements
    unexplained_min_people: float = Field(default=20.0, ge=0, allow_inf_nan=False)
    exit_excess_share: Share = 0.25  # a day's exits above its entries by more than this share (plus 10 people)
    exit_excess_min_days: Days = 2
    closed_activity_min_hours: Hours = 1.0
    # late_arrival: readings later than the network's usual by late_hours, for late_min_share of covered hours
    late_hours: Hours = 24.0
    late_min_share: Share = 0.1
    late_min_peers: int = Field(default=3, ge=1, le=100_000)
    # too_regular
    regular_same_share: Share = 0.5  # share of days with exactly the most common daily total
    regular_min_days: Days = 7
    regular_round_share: Share = 0.6  # share of occupancy values >= 10 that are multiples of 5 (honest: ~20%)
    regular_min_values: int = Field(default=40, ge=1, le=10_000_000)
    # near_copy: hour-by-hour residuals (after the facility's own weekday-hour profile and day level) correlated
    # at least near_copy_min_corr with another facility's, at a lag of -1, 0 or +1 hour, over near_copy_min_hours
    near_copy_min_corr: Share = 0.6
    near_copy_min_hours: int = Field(default=200, ge=10, le=100_000)
    # no_memory: lag-1 autocorrelation of quarter-hour occupancy (from one- vs two-slot changes) below memory_max,
    # over memory_min_pairs pairs whose mean occupancy reaches memory_min_people
    memory_max: float = Field(default=0.35, ge=-1, le=1, allow_inf_nan=False)
    memory_min_pairs: int = Field(default=200, ge=10, le=10_000_000)
    memory_min_people: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    # similar_days: the median distance of a day's hourly peaks to its nearest other day below similar_ratio times
    # the median of its type's facilities in the run (the network's with fewer than similar_min_peers of its type)
    similar_ratio: Share = 0.5
    similar_min_days: Days = 7
    # facilities (and peers) whose compared days average fewer people an hour are not judged: counts of a few
    # people are too coarse for the 1/sqrt(people) size scaling
    similar_min_people: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    similar_min_peers: int = Field(default=5, ge=2, le=100_000)
    # digit_preference: last digits of occupancies >= 20 (changed since the last slot) differ from uniform with a
    # chi-square p-value below digit_max_p, by at least digit_min_distance (half the summed share differences)
    digit_max_p: float = Field(default=1e-6, gt=0, le=0.5, allow_inf_nan=False)
    digit_min_distance: Share = 0.1
    digit_min_values: int = Field(default=100, ge=20, le=10_000_000)
    digit_min_spread: float = Field(default=8.0, ge=0, allow_inf_nan=False)  # standard deviation of those values
    # counts_drift: occupancy drifting from the day's accumulated entries minus exits by more than drift_share of
    # the day's entries and at least drift_min_people, on drift_min_days days
    drift_share: Share = 0.2
    drift_min_people: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    drift_min_days: Days = 3
    # revisions: stored readings re-sent with other values (same sensor and ts), at least this many in the window
    revision_min_count: int = Field(default=1, ge=1, le=10_000_000)


def _optional(info: FieldInfo) -> Any:
    """The field's type and bounds, or None."""
    return (Annotated[info.annotation, *info.metadata] | None, None)


#: The same keys, each optional: a type's ``integrity:`` names only the thresholds it changes.
IntegrityOverrides: type[BaseModel] = create_model(
    "IntegrityOverrides",
    __base__=StrictModel,
    **{name: _optional(info) for name, info in IntegrityThresholds.model_fields.items()},
)
