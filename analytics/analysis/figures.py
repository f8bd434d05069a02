"""Usage figures from 15-minute aggregates, for many facilities at once. Pure pandas/numpy, no I/O.

Two stages. ``day_summaries`` turns a facility's open slots of one local day into a few sums (open and
covered slots, occupancy, entries, uses, whether anything happened, hourly peaks); those are additive, so
they can be kept in the rollup and a later run need not aggregate the day again. ``window_table`` adds the
days of each window up into figures.

Input rows are one per (facility, sensor, slot) that holds readings: the sensor's mean occupancy and its sums
of entries and uses in the slot. A facility's occupancy in a slot is the sum over its sensors of their means;
its peak in an hour is the highest of those quarter-hour occupancies. Only slots inside opening hours and not on
closure days count; activity at other times (night cleaning) is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.analysis.model import Figures
from analytics.analysis.schedule import SLOTS_PER_HOUR, SlotGrid
from analytics.integrity import days as integrity_days

PEAK_PERCENTILE = 95
PEAK_DECIMALS = 3  # hourly peaks are kept to a thousandth of a person, in memory and in the rollup alike
CURRENT, PREVIOUS = 0, 1
READING_COLUMNS = ("occ_mean", "entries", "uses")
DAY_COLUMNS = ("open_slots", "covered_slots", "occ_sum", "occ_slots", "entries_sum", "entries_slots", "uses_sum",
               "uses_slots", "active")
_SHIFT = 32  # key = facility code << 32 | slot number; slot numbers stay below 2**32 until the year 3194


@dataclass(frozen=True, slots=True)
class Days:
    """Per (facility code, local day): ``table`` indexed by (fac, day) with DAY_COLUMNS, ``peaks`` with one
    row (fac, day, hour, peak) per opening hour that had occupancy data, and what the integrity checks need
    (analytics.integrity.days: ``checks``, ``prints``, ``arrivals``)."""

    table: pd.DataFrame
    peaks: pd.DataFrame
    checks: pd.DataFrame = field(default_factory=integrity_days.empty_checks)
    prints: pd.DataFrame = field(default_factory=integrity_days.empty_prints)
    arrivals: pd.DataFrame = field(default_factory=integrity_days.empty_arrivals)

    @staticmethod
    def empty() -> Days:
        index = pd.MultiIndex.from_arrays([np.empty(0, np.int64), np.empty(0, np.int64)], names=["fac", "day"])
        table = pd.DataFrame({c: np.empty(0, bool if c == "active" else np.float64) for c in DAY_COLUMNS},
                             index=index)
        peaks = pd.DataFrame({"fac": np.empty(0, np.int64), "day": np.empty(0, np.int64),
                              "hour": np.empty(0, np.int64), "peak": np.empty(0, np.float64)})
        return Days(table, peaks)

    @staticmethod
    def concat(parts: Sequence[Days]) -> Days:
        parts = [p for p in parts if len(p.table)]
        if not parts:
            return Days.empty()
        return Days(pd.concat([p.table for p in parts]), pd.concat([p.peaks for p in parts], ignore_index=True),
                    pd.concat([p.checks for p in parts]), pd.concat([p.prints for p in parts], ignore_index=True),
                    pd.concat([p.arrivals for p in parts], ignore_index=True))

    def select(self, keep: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Days:
        """The days whose (fac, day) ``keep(fac, day)`` marks: a vectorised predicate on two arrays."""
        def rows(frame: pd.DataFrame, indexed: bool) -> pd.DataFrame:
            fac = frame.index.get_level_values("fac") if indexed else frame["fac"]
            day = frame.index.get_level_values("day") if indexed else frame["day"]
            return frame[keep(np.asarray(fac, np.int64), np.asarray(day, np.int64))]

        return Days(rows(self.table, True), rows(self.peaks, False), rows(self.checks, True),
                    rows(self.prints, False), rows(self.arrivals, False))

    def recode(self, codes: np.ndarray) -> Days:
        """The same days with facility code ``c`` renumbered ``codes[c]``."""
        def indexed(frame: pd.DataFrame) -> pd.DataFrame:
            fac = codes[frame.index.get_level_values("fac").to_numpy(np.int64)]
            return frame.set_axis(pd.MultiIndex.from_arrays([fac, frame.index.get_level_values("day")],
                                                            names=["fac", "day"]))

        def plain(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.assign(fac=codes[frame["fac"].to_numpy(np.int64)])

        return Days(indexed(self.table), plain(self.peaks), indexed(self.checks), plain(self.prints),
                    plain(self.arrivals))


def grid_frame(grids: Sequence[tuple[SlotGrid, int]]) -> pd.DataFrame:
    """One row per opening-hour slot of each facility; facility code = position in ``grids``.

    Each grid comes with the ordinal of the first day of the current window: earlier days form the previous one.
    """
    sizes = [len(grid) for grid, _ in grids]
    fac = np.repeat(np.arange(len(grids), dtype=np.int64), sizes)
    if not sum(sizes):
        empty = np.empty(0, dtype=np.int64)
        return pd.DataFrame({"fac": empty, "slot": empty, "day": empty, "hour": empty,
                             "closed": np.empty(0, dtype=bool), "period": empty})
    day = np.concatenate([grid.day for grid, _ in grids]).astype(np.int64)
    split = np.repeat(np.array([first for _, first in grids], dtype=np.int64), sizes)
    return pd.DataFrame(
        {
            "fac": fac,
            "slot": np.concatenate([grid.slot for grid, _ in grids]),
            "day": day,
            "hour": np.concatenate([grid.hour for grid, _ in grids]),
            "closed": np.concatenate([grid.closed for grid, _ in grids]),
            "period": np.where(day >= split, CURRENT, PREVIOUS),
        }
    )


def slot_totals(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (facility, slot): the sums over sensors (NaN when no sensor reported the field) and the row count."""
    key = (readings["fac"].to_numpy(np.int64) << _SHIFT) | readings["slot"].to_numpy(np.int64)
    columns = [c for c in READING_COLUMNS if c in readings.columns]
    grouped = readings[columns].groupby(key, sort=False)
    totals = grouped.sum(min_count=1)
    totals["n"] = grouped.size()
    return totals


def day_summaries(open_slots: pd.DataFrame, readings: pd.DataFrame) -> Days:
    """Sum up each (facility, day) of ``open_slots`` (grid rows, closure days already left out).

    A day none of whose slots has a reading (most of a warm run's days from readings: the previous window's days
    without data stay open until no sensor may upload them any more) is summed up from its slot count alone, as
    the full sums would come out: nothing covered, no sums, not active, no peaks, its checks zero."""
    if not len(open_slots):
        return Days.empty()
    fac = open_slots["fac"].to_numpy(np.int64)
    day = open_slots["day"].to_numpy(np.int64)
    keys = (fac << _SHIFT) | open_slots["slot"].to_numpy(np.int64)
    aligned = slot_totals(readings).reindex(keys)
    n = np.nan_to_num(aligned["n"].to_numpy(np.float64), nan=0.0)
    day_key = (fac << _SHIFT) | day
    busy = np.isin(day_key, np.unique(day_key[n > 0]))
    if busy.all():
        return _summed(open_slots, readings, aligned, n)
    quiet_keys, quiet_slots = np.unique(day_key[~busy], return_counts=True)
    zeros = np.zeros(len(quiet_keys))
    quiet = pd.DataFrame(dict.fromkeys(DAY_COLUMNS, zeros), index=pd.MultiIndex.from_arrays(
        [quiet_keys >> _SHIFT, quiet_keys & ((1 << _SHIFT) - 1)], names=["fac", "day"]))
    quiet = quiet.assign(open_slots=quiet_slots.astype(np.float64), active=np.zeros(len(quiet_keys), bool))
    if not busy.any():
        return Days(quiet, Days.empty().peaks, integrity_days.empty_checks().reindex(quiet.index, fill_value=0.0))
    summed = _summed(open_slots[busy], readings, aligned[busy], n[busy])
    table = pd.concat([summed.table, quiet]).sort_index()
    return Days(table, summed.peaks, summed.checks.reindex(table.index, fill_value=0.0), summed.prints,
                summed.arrivals)


def _summed(open_slots: pd.DataFrame, readings: pd.DataFrame, aligned: pd.DataFrame, n: np.ndarray) -> Days:
    """day_summaries of days with readings: ``aligned`` holds each slot's totals (slot_totals), ``n`` its rows."""
    fac = open_slots["fac"].to_numpy(np.int64)
    values = {c: aligned[c].to_numpy(np.float64) if c in aligned else np.full(len(fac), np.nan)
              for c in READING_COLUMNS}
    occ, entries, uses = values["occ_mean"], values["entries"], values["uses"]
    active = (np.nan_to_num(occ) > 0) | (np.nan_to_num(entries) > 0) | (np.nan_to_num(uses) > 0)
    slots = pd.DataFrame({"fac": fac, "day": open_slots["day"].to_numpy(np.int64),
                          "hour": open_slots["hour"].to_numpy(np.int64), "covered": n > 0, "active": active,
                          "occ": occ, "entries": entries, "uses": uses})
    table = slots.groupby(["fac", "day"], sort=True).agg(
        open_slots=("covered", "size"),
        covered_slots=("covered", "sum"),
        occ_sum=("occ", "sum"),
        occ_slots=("occ", "count"),
        entries_sum=("entries", "sum"),
        entries_slots=("entries", "count"),
        uses_sum=("uses", "sum"),
        uses_slots=("uses", "count"),
        active=("active", "any"),
    )
    table = table.astype({c: np.float64 for c in DAY_COLUMNS if c != "active"})
    peaks = slots.groupby(["fac", "day", "hour"], sort=True)["occ"].max().dropna().round(PEAK_DECIMALS)
    peaks = peaks.reset_index()[["fac", "day", "hour", "occ"]].rename(columns={"occ": "peak"})
    checks, prints, arrivals = integrity_days.day_checks(open_slots, readings)
    return Days(table, peaks, checks.reindex(table.index, fill_value=0.0), prints, arrivals)


def window_table(days: Days, grid: pd.DataFrame, first_days: Sequence[int] | np.ndarray,
                 capacity: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Per (facility, period): sums over the period's open days, day counts, closed slots, the peak percentile.

    ``first_days[fac]`` is the ordinal of the current window's first day; earlier days are the previous window.
    """
    split = np.asarray(first_days, dtype=np.int64)
    table = days.table.reset_index()
    table["period"] = np.where(table["day"].to_numpy() >= split[table["fac"].to_numpy(np.int64)], CURRENT, PREVIOUS)
    table["observed"] = table["covered_slots"] > 0
    table["idle"] = table["observed"] & ~table["active"].astype(bool)
    sums = [c for c in DAY_COLUMNS if c != "active"]
    out = table.groupby(["fac", "period"])[[*sums, "observed", "idle"]].sum()
    out = out.rename(columns={"observed": "observed_days", "idle": "idle_days"})
    out["open_days"] = table.groupby(["fac", "period"]).size()
    peaks = days.peaks
    if len(peaks):
        period = np.where(peaks["day"].to_numpy() >= split[peaks["fac"].to_numpy(np.int64)], CURRENT, PREVIOUS)
        quantile = peaks.assign(period=period).groupby(["fac", "period"])["peak"].quantile(PEAK_PERCENTILE / 100)
        out = out.join(quantile.rename("peak_q"), how="outer")
    closed = grid[grid["closed"].to_numpy()].groupby(["fac", "period"]).size().rename("closed_slots")
    out = out.join(closed, how="outer")
    out["capacity"] = np.asarray(capacity, dtype=np.float64)[out.index.get_level_values("fac").to_numpy(np.int64)]
    return out


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


def to_figures(row: Mapping[str, Any] | None) -> Figures:
    """One facility's Figures from a row of ``window_table``; a facility without opening hours gets empty ones."""
    if row is None:
        return Figures()

    def number(name: str) -> float:
        value = row.get(name)
        return 0.0 if value is None or pd.isna(value) else float(value)

    open_slots, closed_slots, covered = number("open_slots"), number("closed_slots"), number("covered_slots")
    observed, idle, capacity = int(number("observed_days")), int(number("idle_days")), float(row["capacity"])
    occ_slots, entries_slots, uses_slots = number("occ_slots"), number("entries_slots"), number("uses_slots")
    peak = row.get("peak_q")
    return Figures(
        open_hours=open_slots / SLOTS_PER_HOUR,
        closed_hours=closed_slots / SLOTS_PER_HOUR,
        covered_hours=covered / SLOTS_PER_HOUR,
        open_days=int(number("open_days")),
        observed_days=observed,
        idle_days=idle,
        closed_share=_ratio(closed_slots, open_slots + closed_slots),
        coverage=_ratio(covered, open_slots),
        occupancy_rate=number("occ_sum") / occ_slots / capacity if occ_slots else None,
        peak_rate=float(peak) / capacity if occ_slots and peak is not None and not pd.isna(peak) else None,
        visits_per_open_day=_ratio(number("entries_sum"), observed) if entries_slots else None,
        uses_per_open_day=_ratio(number("uses_sum"), observed) if uses_slots else None,
        idle_day_share=_ratio(idle, observed),
        reports_occupancy=occ_slots > 0,
        reports_entries=entries_slots > 0,
        reports_uses=uses_slots > 0,
    )


def figures_by_facility(table: pd.DataFrame, count: int) -> list[tuple[Figures, Figures]]:
    """(current, previous) Figures for facility codes 0..count-1."""
    rows = table.to_dict("index")
    return [(to_figures(rows.get((code, CURRENT))), to_figures(rows.get((code, PREVIOUS)))) for code in range(count)]


def compute(grid: pd.DataFrame, readings: pd.DataFrame, first_days: Sequence[int] | np.ndarray,
            capacity: Sequence[int] | np.ndarray) -> list[tuple[Figures, Figures]]:
    """Both stages at once, from the grid and the 15-minute readings: (current, previous) per facility code."""
    days = day_summaries(grid[~grid["closed"].to_numpy()], readings)
    return figures_by_facility(window_table(days, grid, first_days, capacity), len(first_days))
