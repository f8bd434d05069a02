"""Integrity detectors that need the other facilities: clone (one series under two names) and late_arrival
(readings that arrived long after the network's readings for the same time). Pure.

Both stay cheap for thousands of facilities: clones are found by bucketing each sensor-day's fingerprint
(integrity_days) and only equal fingerprints are paired; lateness compares each facility-hour with one curve
built from the medians of all facilities' arrival times (exact receive times where stored).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.analysis.model import Detector, Finding
from analytics.integrity.days import ESTIMATE_UNCERTAINTY_S, HOUR_S
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import decimal, percent
from facmon.core.i18n import _

#: A facility-hour less than this (wall clock) after the network's readings for the same hour is never called
#: late, whatever hour of the curve that matches. Arrivals from ``received_ms`` are exact to the millisecond, so
#: this only absorbs the ingester's and broker's own jitter; a replay of 28 days in 15 s moves about 45 hours of
#: data a second, so anything a second or more behind the rest is seen. Estimated arrivals (points without
#: received_ms) add their own uncertainty, a slot (integrity_days.ESTIMATE_UNCERTAINTY_S), as before.
MIN_LATE_S = 1.0
MAX_BUCKET = 50  # more facilities than this with one fingerprint is a shared pattern (a test feed), listed once


def clone(prints: pd.DataFrame, ids: Sequence[str], limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Facilities (codes = positions in ``ids``) that share a sensor-day series with another facility, or whose
    own sensors repeat one another, on at least clone_min_days days."""
    if not len(prints):
        return {}
    shared = prints[prints.duplicated(["day", "fp"], keep=False)]  # a facility twice: two of its sensors
    if not len(shared):
        return {}
    days: dict[tuple[int, int], set[int]] = defaultdict(set)
    for (day, _fp), group in shared.groupby(["day", "fp"], sort=False):
        facs = sorted(group["fac"].tolist())[:MAX_BUCKET]
        for i, a in enumerate(facs):
            for b in facs[i + 1 :]:
                days[(a, b)].add(int(day))
    partners: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (a, b), seen in days.items():
        partners[a].append((len(seen), b))
        if a != b:
            partners[b].append((len(seen), a))
    found = {}
    for fac, pairs in partners.items():
        need = limits[fac].clone_min_days
        pairs = sorted((p for p in pairs if p[0] >= need), key=lambda p: (-p[0], ids[p[1]]))
        if not pairs:
            continue
        count, other = pairs[0]
        if other == fac:
            reason = _("two of its sensors report the same occupancy series on {days} days (≥ {need})").format(
                days=count, need=need)
        else:
            more = _(" (and {more} more)").format(more=len(pairs) - 1) if len(pairs) > 1 else ""
            reason = _("the same occupancy series as {other}{more} on {days} days (≥ {need}); one feed under two "
                       "names, both flagged: the data cannot tell which of the two is the copy").format(
                other=ids[other], more=more, days=count, need=need)
        found[fac] = Finding(Detector.CLONE, reason, {"same_as": ids[other], "days": count, "min_days": need,
                                                      "facilities": len(pairs)})
    return found


@dataclass(frozen=True, slots=True)
class Lateness:
    """Per facility code: facility-hours with data, those later than the threshold, and their median lateness."""

    hours: int
    late: int
    median_late_hours: float


def network_curve(arrivals: pd.DataFrame, min_peers: int) -> tuple[np.ndarray, np.ndarray]:
    """(hours, arrival seconds): when readings for each UTC hour normally arrived, never decreasing.

    The median over facilities of each facility's mean arrival in that hour, for hours at least ``min_peers``
    facilities report, then carried forward so that a later hour never "arrives" before an earlier one.
    """
    absolute = arrivals["hour"].to_numpy(np.int64) * HOUR_S + arrivals["arrival"].to_numpy(np.float64)
    frame = pd.DataFrame({"hour": arrivals["hour"].to_numpy(np.int64), "at": absolute})
    stats = frame.groupby("hour", sort=True)["at"].agg(["median", "size"])
    stats = stats[stats["size"] >= min_peers]
    return stats.index.to_numpy(np.int64), np.maximum.accumulate(stats["median"].to_numpy(np.float64))


def lateness(arrivals: pd.DataFrame, late_hours: np.ndarray, min_peers: int) -> dict[int, Lateness]:
    """How late each facility-hour arrived against the network: the hour whose readings normally arrived when
    this one did, minus its own hour (past the curve's end, at the pace of the clock)."""
    if not len(arrivals):
        return {}
    hours, curve = network_curve(arrivals, min_peers)
    if not len(hours):
        return {}
    own = arrivals["hour"].to_numpy(np.int64)
    at = own * HOUR_S + arrivals["arrival"].to_numpy(np.float64)
    index = np.searchsorted(curve, at, side="right") - 1
    matched = np.where(index >= 0, hours[np.clip(index, 0, None)], own).astype(np.float64)
    beyond = at > curve[-1]
    matched[beyond] = hours[-1] + (at[beyond] - curve[-1]) / HOUR_S
    delay = np.maximum(matched - own, 0.0)
    at_own = np.interp(own.astype(np.float64), hours.astype(np.float64), curve)
    fac = arrivals["fac"].to_numpy(np.int64)
    uncertainty = (arrivals["uncertainty"].to_numpy(np.float64) if "uncertainty" in arrivals.columns
                   else np.full(len(arrivals), ESTIMATE_UNCERTAINTY_S))
    late = (delay >= late_hours[fac]) & (at - at_own > np.maximum(uncertainty, MIN_LATE_S))
    frame = pd.DataFrame({"fac": fac, "late": late, "delay": np.where(late, delay, np.nan)})
    summary = frame.groupby("fac").agg(hours=("late", "size"), late=("late", "sum"), typical=("delay", "median"))
    return {int(f): Lateness(int(r.hours), int(r.late), float(r.typical) if r.late else 0.0)
            for f, r in summary.iterrows()}


def late_arrival(found: Lateness, limits: IntegrityThresholds, open_hours: float, covered_hours: float,
                 min_coverage: float) -> Finding | None:
    """Readings that arrived in bulk long after the network's readings for the same hours."""
    if not found.hours or found.late / found.hours < limits.late_min_share - 1e-9:
        return None
    days = found.median_late_hours / 24
    if days >= 2:
        when = _("{days} days").format(days=decimal(days, 1))
    else:
        when = _("{hours} h").format(hours=decimal(found.median_late_hours))
    reason = _("readings for {late} of {hours} hours with data ({share}) arrived about {when} after the network's "
               "readings for the same time (> {limit:g} h)").format(
        late=found.late, hours=found.hours, share=percent(found.late / found.hours), when=when,
        limit=limits.late_hours)
    evidence: dict[str, float | int | str] = {"late_hours": found.late, "hours_with_data": found.hours,
                                              "median_lateness_hours": round(found.median_late_hours, 1),
                                              "threshold_hours": limits.late_hours}
    if open_hours > 0:
        without = max(0.0, covered_hours * (1 - found.late / found.hours)) / open_hours
        evidence["coverage_without_late"] = round(without, 3)
        if without < min_coverage - 1e-9:
            reason += _("; without them coverage would be about {coverage}: NO_DATA").format(
                coverage=percent(without))
    return Finding(Detector.LATE_ARRIVAL, reason, evidence)
