"""counts_drift: door counts that do not add up over time. Pure.

Each quarter hour impossible_counts checks that a rise in occupancy is covered by the entries counted (and a fall
by the exits); it cannot see door counts that explain *more* than happened, a little each quarter hour: entries
inflated (visits are what a community centre is judged by) without the people ever showing in the occupancy. Over
a day those add up. For each sensor's run of consecutive quarter hours with occupancy, entries and exits, the
drift at slot t is occupancy(t) - occupancy(first) - the entries minus exits of the slots after the first up to
t. An honest sensor's drift stays within what moved in those two slots (a slot's occupancy is its mean, its
counts its sum); a real counter that misses a person now and then drifts by a few percent of the day's entries.

Day values (integrity.days.DRIFT_COLUMNS, computed there with the other day values and kept in the rollup):
``drift_max``, the largest drift beyond that tolerance over the day's sensors and slots; ``drift_entries``, the
entries of those slots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analytics.analysis.model import Detector, Finding
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import OwnDays, decimal, percent
from facmon.core.i18n import _


def counts_drift_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Facilities whose occupancy drifts away from their accumulated door counts on drift_min_days days or more,
    by more than drift_share of the day's entries and at least drift_min_people."""
    checks = own.checks
    if not len(checks):
        return {}
    fac, largest, entries = checks.fac, checks["drift_max"], checks["drift_entries"]
    share = np.array([c.drift_share for c in limits], np.float64)[fac]
    people = np.array([c.drift_min_people for c in limits], np.float64)[fac]
    bad = (entries > 0) & (largest >= people) & (largest > share * entries)
    days = np.bincount(fac[bad], minlength=own.count)
    judged = np.bincount(fac[entries > 0], minlength=own.count)
    found: dict[int, Finding] = {}
    for code in np.flatnonzero(days >= np.array([c.drift_min_days for c in limits])).tolist():
        mine = np.flatnonzero(bad & (fac == code))
        worst = int(mine[np.argmax(largest[mine] / entries[mine])])
        top, of = float(largest[worst]), float(entries[worst])
        check = limits[code]
        reason = _("counts do not add up over the day: occupancy drifted from entries minus exits by more than "
                   "{share} of the day's entries (and ≥ {people:g} people) on {days} of {judged} days (worst: "
                   "{top} people against {entries} entries, {worst}); inflated door counts do this, a counter that "
                   "misses people drifts a few percent — it cannot say which figure is wrong").format(
            share=percent(check.drift_share), people=check.drift_min_people, days=int(days[code]),
            judged=int(judged[code]), top=decimal(top), entries=decimal(of), worst=percent(top / of))
        found[code] = Finding(Detector.COUNTS_DRIFT, reason, {
            "days": int(days[code]), "judged_days": int(judged[code]), "largest_drift": round(top, 1),
            "entries_that_day": round(of, 1), "share": check.drift_share, "min_people": check.drift_min_people,
            "min_days": check.drift_min_days})
    return found
