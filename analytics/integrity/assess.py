"""Data integrity: does a facility's data look forged or broken? A flag beside its status, never instead of it.

Eleven detectors (model.Detector), each with thresholds per facility type (integrity.rules) and a one-line
reason with the numbers that fired: flat_line, copied_days, impossible_counts, too_regular look at the facility's
own days (integrity.series), and so do no_memory and digit_preference (integrity.shape) and counts_drift
(integrity.drift); clone and late_arrival compare it with the other facilities of the run (integrity.network),
near_copy with their shapes (integrity.near_copy), similar_days with its type's days (integrity.shape). All of
them read the current window's open days as analytics.analysis.figures.Days holds them, so a run judges
integrity from the rollup as well as from fresh aggregates. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.analysis.figures import Days
from analytics.analysis.model import Detector, Figures, Finding, Integrity
from analytics.analysis.rules import Thresholds
from analytics.integrity import drift as integrity_drift
from analytics.integrity import near_copy as integrity_copy
from analytics.integrity import network as integrity_network
from analytics.integrity import series as integrity_series
from analytics.integrity import shape as integrity_shape
from analytics.integrity.days import CHECK_COLUMNS
from analytics.integrity.series import TABLE_COLUMNS, OwnDays, Rows
from sensors.registry import Facility

ORDER = tuple(Detector)
_SERIES = (integrity_series.flat_line_all, integrity_series.copied_days_all, integrity_series.impossible_counts_all,
           integrity_series.too_regular_all, integrity_shape.no_memory_all, integrity_shape.digit_preference_all,
           integrity_drift.counts_drift_all)


def own_days(days: Days, facilities: Sequence[Facility], closed_active: Mapping[int, int],
             closure_reasons: Sequence[tuple[str, ...]]) -> OwnDays:
    """The detectors' view of ``days``: flat arrays by facility code (= position in ``facilities``) and day."""
    count = len(facilities)

    def indexed(frame: pd.DataFrame, names: Sequence[str]) -> Rows:
        index = frame.index
        return Rows.of(index.get_level_values("fac"), index.get_level_values("day"), frame, names, count)

    active = np.zeros(count, np.int64)
    for code, slots in closed_active.items():
        active[code] = slots
    names = ("peak", "hour") if "hour" in days.peaks.columns else ("peak",)
    peaks = Rows.of(days.peaks["fac"], days.peaks["day"], days.peaks, names, count)
    return OwnDays(np.array([f.capacity for f in facilities], np.int64), indexed(days.table, TABLE_COLUMNS),
                   indexed(days.checks, CHECK_COLUMNS), peaks, active, tuple(closure_reasons))


def assess(days: Days, facilities: Sequence[Facility], limits: Sequence[Thresholds], figures: Sequence[Figures],
           closed_active: dict[int, int] | None = None,
           closure_reasons: Sequence[tuple[str, ...]] | None = None,
           between_checks: Callable[[], object] = lambda: None) -> list[Integrity]:
    """Integrity per facility. ``days`` holds the current window's open days, facility code = position in
    ``facilities``; ``closed_active`` the active opening-hour slots on closure days per code; ``between_checks``
    runs after each check (the engine gives freed memory back there, so one check's temporaries do not stay
    resident under the next one's)."""
    reasons = closure_reasons if closure_reasons is not None else [()] * len(facilities)
    own = own_days(days, facilities, closed_active or {}, reasons)
    checks = [t.integrity for t in limits]
    found: list[list[Finding]] = [[] for _ in facilities]
    for detector in _SERIES:
        for code, finding in detector(own, checks).items():
            found[code].append(finding)
        between_checks()
    ids = [f.id for f in facilities]
    for code, finding in integrity_shape.similar_days_all(own, checks, [f.type for f in facilities]).items():
        found[code].append(finding)
    between_checks()
    clones = integrity_network.clone(days.prints, ids, checks)
    for code, finding in clones.items():
        found[code].append(finding)
    for code, finding in integrity_copy.near_copy(own, ids, checks).items():
        if code not in clones:  # an exact copy is clone's to report
            found[code].append(finding)
    between_checks()
    if checks:
        late_limit = np.array([c.late_hours for c in checks], dtype=np.float64)
        peers = min(c.late_min_peers for c in checks)
        for code, lateness in integrity_network.lateness(days.arrivals, late_limit, peers).items():
            f = figures[code]
            late = integrity_network.late_arrival(lateness, checks[code], f.open_hours, f.covered_hours,
                                                  limits[code].min_coverage)
            if late is not None:
                found[code].append(late)
    return [Integrity(tuple(sorted(items, key=lambda x: ORDER.index(x.detector)))) for items in found]
