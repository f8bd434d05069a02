"""Integrity detectors that look at each facility's own days: flat_line, copied_days, impossible_counts,
too_regular. Pure.

Each judges every facility of a run at once (``flat_line_all(own, limits)`` and so on: a Finding, a one-line reason
with its numbers, per facility code that fired), since a few pandas calls per facility cost seconds over thousands
of facilities; ``flat_line(days, limits)`` and the like run the same code on one facility. Inputs are the current
window's open days (closure days apart) as analytics.analysis.figures and analytics.integrity.days summarise
them, so the checks work from the rollup alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from analytics.analysis.model import Detector, Finding
from analytics.analysis.schedule import SLOTS_PER_HOUR
from analytics.integrity.days import CHECK_COLUMNS
from analytics.integrity.rules import IntegrityThresholds
from facmon.core.i18n import N_, _, format_number, format_percent

COPY_MIN_HOURS = 6  # fewer hourly peaks than this match by chance too often to call a day a copy
STABLE_WITHIN = 0.85  # a stable group's hour: its peak within 15 % of the day's highest
FULL_MIN_HOURS = 3  # hours at capacity that make a day a full house's …
FULL_MAX_RATIO = 1.1  # … at capacity, not beyond: far above it is impossible_counts' business
EXIT_SLACK_PEOPLE = 10  # a day's exits may exceed its entries by this many people plus exit_excess_share
ROUND_BASE = 5
#: The columns of figures.DAY_COLUMNS that the detectors read.
TABLE_COLUMNS = ("covered_slots", "occ_sum", "occ_slots", "entries_sum", "entries_slots", "uses_sum", "uses_slots")
_TOTALS = (N_("visits"), N_("uses"), N_("mean occupancy"))  # what too_regular adds up per day, by preference
Evidence = dict[str, float | int | str]


def facility_day_order(fac: np.ndarray, day: np.ndarray) -> np.ndarray | None:
    """The rows' stable (facility, day) order — rows of one day keep theirs — or None when they are in it."""
    if len(fac) < 2 or ((fac[1:] > fac[:-1]) | ((fac[1:] == fac[:-1]) & (day[1:] >= day[:-1]))).all():
        return None
    order: np.ndarray = np.lexsort((day, fac))
    return order


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows of many facilities sorted by (facility code, day), the given order kept within a day (the hours of
    ``peaks``): ``fac``, ``day`` and float ``columns``; code c's rows are ``bounds[c]:bounds[c + 1]``."""

    fac: np.ndarray
    day: np.ndarray
    columns: Mapping[str, np.ndarray]
    bounds: np.ndarray

    @staticmethod
    def of(fac: np.ndarray | pd.Index | pd.Series, day: np.ndarray | pd.Index | pd.Series, frame: pd.DataFrame,
           names: Sequence[str], count: int) -> Rows:
        """``names`` of ``frame`` for codes 0..count-1, the rows' codes and days given beside it (a column the
        frame lacks, as in days built by hand before a check existed, is all zeros)."""
        fac, day = np.asarray(fac, np.int64), np.asarray(day, np.int64)
        columns = {name: frame[name].to_numpy(np.float64) if name in frame.columns else np.zeros(len(frame))
                   for name in names}
        order = facility_day_order(fac, day)
        if order is not None:
            fac, day = fac[order], day[order]
            columns = {name: values[order] for name, values in columns.items()}
        return Rows(fac, day, columns, np.searchsorted(fac, np.arange(count + 1)))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(self.fac)

    @property
    def count(self) -> int:
        """How many facility codes."""
        return len(self.bounds) - 1

    def tally(self, rows: np.ndarray) -> np.ndarray:
        """Per facility code, how many of ``rows`` (a mask or positions) are its."""
        return np.bincount(self.fac[rows], minlength=self.count)

    def sums(self, name: str) -> np.ndarray:
        """Per facility code, the column's sum with NaN as 0, to the bit as pandas sums one facility's rows: numpy's
        pairwise summation of each facility's slice, which np.add.reduceat and np.bincount do not reproduce."""
        values = self.columns[name]
        values = np.where(np.isnan(values), 0.0, values)
        bounds = self.bounds.tolist()
        return np.array([values[a:b].sum() for a, b in pairwise(bounds)], np.float64)


@dataclass(frozen=True, slots=True)
class OwnDays:
    """The current windows of facility codes 0..count-1: ``table`` (TABLE_COLUMNS) and ``checks``
    (integrity_days.CHECK_COLUMNS) one row per day, ``peaks`` (``peak``) one per opening hour with occupancy
    data; per code the capacity, the active opening-hour slots of closure days and the closure reasons."""

    capacity: np.ndarray
    table: Rows
    checks: Rows
    peaks: Rows
    closed_active_slots: np.ndarray
    closure_reasons: Sequence[tuple[str, ...]]

    @property
    def count(self) -> int:
        return len(self.capacity)


@dataclass(frozen=True, slots=True)
class FacilityDays:
    """One facility's current window: ``table`` and ``checks`` indexed by day (figures.DAY_COLUMNS,
    integrity_days.CHECK_COLUMNS), ``peaks`` (day, peak) in hour order, and its closure-day activity. The
    detectors read the days in day order, as they read a run's."""

    capacity: int
    table: pd.DataFrame
    checks: pd.DataFrame
    peaks: pd.DataFrame
    closed_active_slots: int = 0
    closure_reasons: tuple[str, ...] = ()

    def own(self) -> OwnDays:
        """This facility alone, as facility code 0."""
        def rows(frame: pd.DataFrame, day: pd.Index | pd.Series, names: Sequence[str]) -> Rows:
            return Rows.of(np.zeros(len(frame), np.int64), day, frame, names, 1)

        return OwnDays(np.array([self.capacity], np.int64),
                       rows(self.table, self.table.index.get_level_values("day"), TABLE_COLUMNS),
                       rows(self.checks, self.checks.index.get_level_values("day"), CHECK_COLUMNS),
                       rows(self.peaks, self.peaks["day"], ("peak",)),
                       np.array([self.closed_active_slots], np.int64), (self.closure_reasons,))


def duration(slots: float) -> str:
    """Quarter hours as "6 h 15 min"."""
    minutes = round(slots * 60 / SLOTS_PER_HOUR)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("{minutes} min").format(minutes=rest)
    if rest:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)
    return _("{hours} h").format(hours=hours)


def decimal(value: float, digits: int = 0) -> str:
    """`value` to `digits` places as the language writes it (`2,000`, `0.69`), rounded first as Python's format
    rounds (the binary value, half to even), so the English sentences read exactly as they did before Babel
    wrote them (Babel rounds the decimal it reads, which differs on ties such as 0.295)."""
    return format_number(round(value, digits), digits)


def number(value: float) -> str:
    """People and counts: whole numbers plainly, others to one decimal, as the language writes them."""
    return decimal(value) if abs(value - round(value)) < 1e-9 else decimal(value, 1)


def percent(value: float) -> str:
    """A share as a whole percentage, as the language writes it (rounded as `decimal` rounds)."""
    return format_percent(round(value * 100) / 100)


def _limit(limits: Sequence[IntegrityThresholds], name: str) -> np.ndarray:
    """One threshold per facility code: they differ by facility type."""
    return np.array([getattr(item, name) for item in limits], np.float64)


def _firsts(*keys: np.ndarray) -> np.ndarray:
    """Positions where any of the (sorted) ``keys`` changes from the row before: the starts of the runs."""
    if not len(keys[0]):
        return np.empty(0, np.int64)
    change = np.zeros(len(keys[0]), bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def _maxima(fac: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Per facility code, the largest of ``values`` (rows sorted by ``fac``; NaN for codes without rows)."""
    out = np.full(count, np.nan)
    if len(fac):
        starts = _firsts(fac)
        out[fac[starts]] = np.maximum.reduceat(values, starts)
    return out


def _slots_needed(hours: np.ndarray) -> np.ndarray:
    """Hours as whole quarter hours, rounded up (and exact hours not up by a rounding error)."""
    return np.ceil(hours * SLOTS_PER_HOUR - 1e-9).astype(np.int64)


def flat_line_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """The same non-zero occupancy from one sensor for hours on end, on several open days."""
    checks = own.checks
    slots, value = checks["flat_slots"], checks["flat_value"]
    need = _slots_needed(_limit(limits, "flat_min_hours"))
    full = full_house(own, limits)
    hit = np.flatnonzero((slots >= need[checks.fac]) & ~full)
    days = checks.tally(hit)
    if not (days >= _limit(limits, "flat_min_days")).any():
        return {}
    # Each facility's longest run: most slots, then the highest value (NaN last), then the earliest day.
    levels = value[hit]
    order = hit[np.lexsort((np.where(np.isnan(levels), 0.0, -levels), np.isnan(levels), -slots[hit], checks.fac[hit]))]
    longest = order[_firsts(checks.fac[order])]
    found: dict[int, Finding] = {}
    for row in longest.tolist():
        code = int(checks.fac[row])
        check = limits[code]
        if days[code] < check.flat_min_days:
            continue
        run, level, count = float(slots[row]), float(value[row]), int(days[code])
        reason = _("occupancy constant at {level} for up to {longest} on {days} open days (≥ {need} on ≥ "
                   "{min_days} days)").format(level=number(level), longest=duration(run), days=count,
                                              need=duration(int(need[code])), min_days=check.flat_min_days)
        found[code] = Finding(Detector.FLAT_LINE, reason, {"days": count, "longest_hours": run / SLOTS_PER_HOUR,
                                                           "value": level, "min_hours": check.flat_min_hours,
                                                           "min_days": check.flat_min_days})
    return found


def full_house(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> np.ndarray:
    """Per row of ``own.checks``: whether the day's longest flat run is a full house, not a stuck sensor: at
    least flat_full_share of capacity, with entries and exits counted in every slot of the run and at least
    flat_min_turnover of those present coming and going per hour (saturation: people still come and go)."""
    checks = own.checks
    slots, value, moves = checks["flat_slots"], checks["flat_value"], checks["flat_moves"]
    fac = checks.fac
    hours = np.maximum(slots - 1, 1) / SLOTS_PER_HOUR
    counted = (slots > 1) & (checks["flat_counted"] >= slots - 1)
    at_capacity = value >= _limit(limits, "flat_full_share")[fac] * own.capacity[fac] - 1e-9
    turnover = moves / 2 / hours >= _limit(limits, "flat_min_turnover")[fac] * value
    full: np.ndarray = counted & at_capacity & turnover
    return full


def _day_keys(fac: np.ndarray, day: np.ndarray) -> np.ndarray:
    return fac.astype(np.int64) << 32 | day.astype(np.int64)


def stable_days(own: OwnDays, limits: Sequence[IntegrityThresholds], fac: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each (fac, day) is a day whose shape the crowd does not set: a stable group's (at least
    stable_plateau_share of the hours in use within 15 % of the day's highest peak: the same people all day, an
    elderly day-care, a class) or a full house's (3 or more hours from flat_full_share of capacity to 110 % of
    it: the door, not the crowd, sets the peak). Such days are alike honestly, so their likeness proves nothing."""
    peaks = own.peaks
    out = np.zeros(len(fac), bool)
    if not len(peaks) or not len(fac):
        return out
    values = peaks["peak"]
    starts = _firsts(peaks.fac, peaks.day)
    owner = peaks.fac[starts]
    high = np.maximum.reduceat(values, starts)
    row_high = np.repeat(high, np.diff(np.append(starts, len(values))))
    used = np.add.reduceat((values > 0).astype(np.int64), starts)
    plateau = np.add.reduceat(((values > 0) & (values >= STABLE_WITHIN * row_high)).astype(np.int64), starts)
    full_level = (_limit(limits, "flat_full_share") * own.capacity)[peaks.fac]
    at_door = (values >= full_level - 1e-9) & (values <= FULL_MAX_RATIO * own.capacity[peaks.fac] + 1e-9)
    full = np.add.reduceat(at_door.astype(np.int64), starts)
    share = plateau / np.maximum(used, 1)
    odd = (high > 0) & ((share >= _limit(limits, "stable_plateau_share")[owner] - 1e-9) | (full >= FULL_MIN_HOURS))
    keys = _day_keys(owner[odd], peaks.day[starts][odd])
    return np.isin(_day_keys(fac, day), keys)


def _alike_days(vectors: np.ndarray, tolerance: float) -> np.ndarray:
    """For days of equal length (rows), whether each has another day within tolerance at every hour (a share of
    the larger of the two peaks: an event hour near capacity must not widen the quiet hours' tolerance)."""
    diff = np.abs(vectors[:, None, :] - vectors[None, :, :])
    level = np.maximum(vectors[:, None, :], vectors[None, :, :])
    close = (diff <= tolerance * level + 1e-9).all(axis=2)
    np.fill_diagonal(close, False)
    alike: np.ndarray = close.any(axis=1)
    return alike


def copied_days_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Days whose hourly peaks repeat another day's, exactly or within the tolerance."""
    peaks = own.peaks
    if not len(peaks):
        return {}
    values = peaks["peak"]
    starts = _firsts(peaks.fac, peaks.day)  # one run per (facility, day): its hourly peaks in hour order
    hours = np.diff(np.append(starts, len(values)))
    fac = peaks.fac[starts]
    high, low = np.maximum.reduceat(values, starts), np.minimum.reduceat(values, starts)
    used = np.add.reduceat((values != 0).astype(np.int64), starts)
    compared_day = (used >= COPY_MIN_HOURS) & (high >= _limit(limits, "copy_min_people")[fac]) & (high > low)
    compared_day &= ~stable_days(own, limits, fac, peaks.day[starts])
    compared = np.bincount(fac[compared_day], minlength=own.count)
    # Only facilities with enough compared days can have enough copies: their days by length, in day order.
    may_fire = compared >= _limit(limits, "copy_min_days")
    days = np.flatnonzero(compared_day & may_fire[fac])
    days = days[np.lexsort((hours[days], fac[days]))]
    copied = np.zeros(own.count, np.int64)
    bounds = np.append(_firsts(fac[days], hours[days]), len(days)).tolist()
    for a, b in pairwise(bounds):
        if b - a > 1:
            group = days[a:b]
            code = int(fac[group[0]])
            vectors = values[starts[group][:, None] + np.arange(hours[group[0]])]
            copied[code] += int(_alike_days(vectors, limits[code].copy_tolerance).sum())
    found: dict[int, Finding] = {}
    for code in np.flatnonzero(may_fire).tolist():
        check = limits[code]
        if copied[code] < check.copy_min_days:
            continue
        count, of = int(copied[code]), int(compared[code])
        reason = _("daily profile repeated: the hourly peaks of {days} of {of} open days match another day's "
                   "within {tolerance} (≥ {min_days} days)").format(
            days=count, of=of, tolerance=percent(check.copy_tolerance), min_days=check.copy_min_days)
        found[code] = Finding(Detector.COPIED_DAYS, reason, {"days": count, "compared_days": of,
                                                             "tolerance": check.copy_tolerance,
                                                             "min_days": check.copy_min_days})
    return found


def _join(table: Rows, checks: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``table`` and ``checks`` with the same (facility, day), as positions into each, by (fac, day)."""
    if len(table) == len(checks) and (table.fac == checks.fac).all() and (table.day == checks.day).all():
        rows = np.arange(len(table))
        return rows, rows

    def keys(rows: Rows) -> np.ndarray:
        return rows.fac.astype(np.uint64) << np.uint64(32) | rows.day.astype(np.uint64)

    _, left, right = np.intersect1d(keys(table), keys(checks), assume_unique=True, return_indices=True)
    return left, right


def impossible_counts_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """Counts that cannot all be true: far above capacity, occupancy changes that entries and exits do not
    explain, days with far more exits than entries, people counted while closed on purpose."""
    parts: dict[int, list[str]] = {}
    evidence: dict[int, Evidence] = {}

    def add(codes: np.ndarray, say: Callable[[int], tuple[str, Evidence]]) -> None:
        for code in codes.tolist():
            text, numbers = say(code)
            parts.setdefault(code, []).append(text)
            evidence.setdefault(code, {}).update(numbers)

    peaks = own.peaks
    ratio = _limit(limits, "max_capacity_ratio")
    over = peaks["peak"] > (ratio * own.capacity)[peaks.fac]
    hours, highest = peaks.tally(over), _maxima(peaks.fac[over], peaks["peak"][over], own.count)

    def crowded(code: int) -> tuple[str, Evidence]:
        count, top = int(hours[code]), float(highest[code])
        text = _("occupancy above {share} of capacity {capacity} in {hours} hours (highest {top})").format(
            share=percent(limits[code].max_capacity_ratio), capacity=int(own.capacity[code]), hours=count,
            top=number(top))
        return text, {"over_capacity_hours": count, "highest": top}

    add(np.flatnonzero(hours >= _limit(limits, "over_capacity_min_hours")), crowded)

    unexplained, moves = own.checks.sums("unexplained"), own.checks.sums("moves")
    allowed = np.maximum(_limit(limits, "unexplained_min_people"), _limit(limits, "unexplained_share") * moves)

    def unexplained_changes(code: int) -> tuple[str, Evidence]:
        people, counted = float(unexplained[code]), float(moves[code])
        share = (_("{share} of {counted} counted").format(share=percent(people / counted), counted=number(counted))
                 if counted else _("none counted"))
        return (_("occupancy changed by {people} people more than entries and exits allow ({share}; > {limit})")
                .format(people=number(people), share=share, limit=percent(limits[code].unexplained_share)),
                {"unexplained_people": people, "counted_movements": counted})

    add(np.flatnonzero(unexplained > allowed), unexplained_changes)

    at_table, at_checks = _join(own.table, own.checks)
    fac = own.table.fac[at_table]
    entries, exits = own.table["entries_sum"][at_table], own.checks["exits_sum"][at_checks]
    counted = (own.checks["exits_slots"][at_checks] > 0) & (own.table["entries_slots"][at_table] > 0)
    excess = exits - entries
    bad = counted & (excess > _limit(limits, "exit_excess_share")[fac] * entries + EXIT_SLACK_PEOPLE)
    days, largest = np.bincount(fac[bad], minlength=own.count), _maxima(fac[bad], excess[bad], own.count)

    def exits_beyond(code: int) -> tuple[str, Evidence]:
        count, top = int(days[code]), float(largest[code])
        return (_("exits exceeded entries by more than {share} + {slack} on {days} days (up to {top})").format(
                    share=percent(limits[code].exit_excess_share), slack=EXIT_SLACK_PEOPLE, days=count,
                    top=number(top)),
                {"exit_excess_days": count, "largest_exit_excess": top})

    add(np.flatnonzero(days >= _limit(limits, "exit_excess_min_days")), exits_beyond)

    closed = own.closed_active_slots

    def while_closed(code: int) -> tuple[str, Evidence]:
        slots, reasons = int(closed[code]), own.closure_reasons[code]
        why = _(" ({reasons})").format(reasons=", ".join(reasons)) if reasons else ""
        return (_("activity on closure days{why} in {duration} of opening hours").format(
                    why=why, duration=duration(slots)),
                {"closed_activity_hours": slots / SLOTS_PER_HOUR})

    add(np.flatnonzero(closed >= _slots_needed(_limit(limits, "closed_activity_min_hours"))), while_closed)
    return {code: Finding(Detector.IMPOSSIBLE_COUNTS, _("; ").join(parts[code]), evidence[code]) for code in parts}


def _daily_totals(table: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Each day's total, by what its facility reports on observed days: visits, else uses, else mean occupancy
    (NaN on days not observed); and per facility code its index into _TOTALS."""
    observed = table["covered_slots"] > 0
    visits = table.tally(observed & (table["entries_slots"] > 0)) > 0
    uses = table.tally(observed & (table["uses_slots"] > 0)) > 0
    what = np.where(visits, 0, np.where(uses, 1, 2))
    slots = table["occ_slots"]
    mean = table["occ_sum"] / np.where(slots > 0, slots, np.nan)
    kind = what[table.fac]
    totals = np.where(kind == 0, table["entries_sum"], np.where(kind == 1, table["uses_sum"], mean))
    return np.where(observed, totals, np.nan), what


def _most_common(fac: np.ndarray, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per facility code, how often its most common value occurs, and that value: on ties the one that occurs
    first, as pandas' value_counts orders them (rows sorted by ``fac``; 0 and NaN for codes without rows)."""
    order = np.lexsort((values, fac))  # stable: equal values of one facility keep their order
    starts = _firsts(fac[order], values[order])
    times = np.diff(np.append(starts, len(order)))
    first, owner = order[starts], fac[order][starts]
    best = np.lexsort((first, -times, owner))
    best = best[_firsts(owner[best])]
    same, value = np.zeros(count, np.int64), np.full(count, np.nan)
    same[owner[best]], value[owner[best]] = times[best], values[first[best]]
    return same, value


def too_regular_all(own: OwnDays, limits: Sequence[IntegrityThresholds]) -> dict[int, Finding]:
    """The same daily total day after day, or occupancies on multiples of 5 far more often than counts are."""
    parts: dict[int, list[str]] = {}
    evidence: dict[int, Evidence] = {}
    table = own.table
    totals, what = _daily_totals(table)
    totals = np.round(totals, 1)
    used = (totals > 0) & ~stable_days(own, limits, table.fac, table.day)
    fac, totals = table.fac[used], totals[used]
    days = np.bincount(fac, minlength=own.count)
    same, value = _most_common(fac, totals, own.count)
    fires = (days >= _limit(limits, "regular_min_days")) & (
        same >= np.maximum(2, _limit(limits, "regular_same_share") * days - 1e-9))
    for code in np.flatnonzero(fires).tolist():
        times, total, of, share = int(same[code]), float(value[code]), int(days[code]), limits[code].regular_same_share
        parts[code] = [_("the same daily total ({total} {what}) on {times} of {days} open days ({share} ≥ {limit})")
                       .format(total=number(total), what=_(_TOTALS[what[code]]), times=times, days=of,
                               share=percent(times / of), limit=percent(share))]
        evidence[code] = {"same_total_days": times, "total": total, "days_with_use": of}
    hits, base = own.checks.sums("round_hits"), own.checks.sums("round_base")
    share = np.divide(hits, base, out=np.zeros(own.count), where=base > 0)
    fires = (base >= _limit(limits, "regular_min_values")) & (share >= _limit(limits, "regular_round_share") - 1e-9)
    for code in np.flatnonzero(fires).tolist():
        round_hits, whole = float(hits[code]), float(base[code])
        parts.setdefault(code, []).append(
            _("{share} of occupancy values of 10 or more are multiples of {base} ({hits} of {values}; ≥ {limit}, "
              "real counts ~20%)").format(
                share=percent(round_hits / whole), base=ROUND_BASE, hits=number(round_hits), values=number(whole),
                limit=percent(limits[code].regular_round_share)))
        evidence.setdefault(code, {}).update(round_values=round_hits, whole_values=whole)
    return {code: Finding(Detector.TOO_REGULAR, _("; ").join(parts[code]), evidence[code]) for code in sorted(parts)}


def flat_line(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """flat_line_all for one facility."""
    return flat_line_all(days.own(), [limits]).get(0)


def copied_days(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """copied_days_all for one facility."""
    return copied_days_all(days.own(), [limits]).get(0)


def impossible_counts(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """impossible_counts_all for one facility."""
    return impossible_counts_all(days.own(), [limits]).get(0)


def too_regular(days: FacilityDays, limits: IntegrityThresholds) -> Finding | None:
    """too_regular_all for one facility."""
    return too_regular_all(days.own(), [limits]).get(0)
