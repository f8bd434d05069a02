"""Comparisons: a facility against its own previous window, and against facilities of the same type. Pure."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence

from analytics.analysis.model import COMPARED, Figures, Status

#: Statuses whose usage figures are trustworthy enough to rank; EXEMPT and NO_DATA ones are left out.
RANKED = (Status.ACTIVE, Status.UNDERUSED, Status.IDLE)


def change(current: Figures, previous: Figures) -> dict[str, float | None]:
    """Current minus previous for each compared figure; None when either window lacks it."""
    out: dict[str, float | None] = {}
    for name in COMPARED:
        now, before = getattr(current, name), getattr(previous, name)
        out[name] = None if now is None or before is None else now - before
    return out


def basis(figures: Figures) -> tuple[str, float] | None:
    """What facilities are ranked by: occupancy rate, or visits (then uses) per open day for count-only sites."""
    for name in ("occupancy_rate", "visits_per_open_day", "uses_per_open_day"):
        value = getattr(figures, name)
        if value is not None:
            return name, value
    return None


def type_percentiles(entries: Sequence[tuple[str, Status, Figures]]) -> list[tuple[float | None, int]]:
    """For each (type, status, figures): the share (in %) of its peers ranking strictly lower, and the peers.

    Peers are the other facilities of the same type with a trustworthy status and the same basis; the lowest
    gets 0, the highest 100. With no peers the percentile is None.
    """
    pools: dict[tuple[str, str], list[float]] = defaultdict(list)
    keys: list[tuple[tuple[str, str], float] | None] = []
    for facility_type, status, figures in entries:
        found = basis(figures) if status in RANKED else None
        if found is None:
            keys.append(None)
            continue
        pool = (facility_type, found[0])
        pools[pool].append(found[1])
        keys.append((pool, found[1]))
    ordered = {pool: sorted(values) for pool, values in pools.items()}
    out: list[tuple[float | None, int]] = []
    for key in keys:
        if key is None:
            out.append((None, 0))
            continue
        values = ordered[key[0]]
        peers = len(values) - 1
        lower = bisect_left(values, key[1])
        out.append((100.0 * lower / peers if peers else None, peers))
    return out
