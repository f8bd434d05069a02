"""One analysis run: facilities in groups, a few groups at a time, each from the rollup and the raw readings.

For each group a worker thread takes the stored day summaries that still match the registry (analytics.analysis.rollup),
aggregates only the other open days from the raw readings in InfluxDB (InfluxClient keeps one connection per
thread), keeps the settled ones in the rollup, and turns the days into figures. Memory stays bounded by the
groups in flight. Classification, comparison and ranking then run on the small per-facility results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics.analysis import compare, figures, rollup
from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.figures import Days
from analytics.analysis.model import AnalysisRun, FacilityResult, Figures, Integrity, Window
from analytics.analysis.options import DEFAULT_CONCURRENCY, DEFAULT_GROUP_SIZE, RollupMode, Settle
from analytics.analysis.rules import Rules, classify
from analytics.analysis.schedule import slot_grid, slot_runs, week_hours, windows
from analytics.integrity import assess as integrity
from analytics.integrity import days as integrity_days
from analytics.integrity import revisions as integrity_revisions
from analytics.integrity.series import facility_day_order
from facmon.core.clock import SYSTEM
from facmon.core.memory import release_free_memory
from sensors.registry import Facility

log = logging.getLogger(__name__)

MERGE_GAP_SLOTS = 8  # a query per range costs about as much as two hours of extra quarter-hour rows


class Source(Protocol):
    """Where readings come from and day summaries are kept (queries.InfluxSource in production)."""

    def aggregates(self, facility_ids: Sequence[str], ranges: Sequence[tuple[int, int]]) -> pd.DataFrame: ...

    def rollup(self, facilities: Sequence[Facility], wanted: pd.DataFrame, first_day: date, last_day: date) -> Days:
        ...

    def save_rollup(self, lines: Sequence[str]) -> None: ...

    def revisions(self, facility_ids: Sequence[str], start_ns: int, end_ns: int) -> pd.DataFrame:
        """Readings re-sent with other values (analytics.integrity_revisions.COLUMNS)."""
        ...

    def release(self) -> None:
        """Let go of what the calling thread holds (its connection); called when a worker finishes a group."""


@dataclass(frozen=True, slots=True)
class GroupResult:
    figures: list[tuple[Figures, Figures]]
    stored_days: int
    raw_days: int
    saved: int
    current: Days  # the current window's open days, for the integrity checks (facility code = group position)
    closed_active: dict[int, int]  # active opening-hour slots on closure days of the current window


def group_figures(
    source: Source, group: Sequence[Facility], as_of: date, days: int, mode: RollupMode, settle: Settle,
    calendar: Calendar = NO_CALENDAR,
) -> GroupResult:
    """(current, previous) Figures for each facility of the group; ``calendar`` gives China's holidays and
    adjusted working days (analytics.analysis.calendar), which change the hours of facilities that follow it."""
    grids, first_days = [], []
    for facility in group:
        current_window, previous_window = windows(as_of, days, facility.timezone)
        start = current_window.first_day.toordinal()
        grids.append((slot_grid(facility, previous_window.first_day, current_window.last_day, calendar), start))
        first_days.append(start)
    frame = figures.grid_frame(grids)
    open_rows = frame[~frame["closed"].to_numpy()]
    wanted = open_rows[["fac", "day"]].drop_duplicates()
    wanted = wanted.assign(key=rollup.keys_for(group, wanted["fac"].to_numpy(np.int64),
                                               wanted["day"].to_numpy(np.int64), calendar))
    stored = Days.empty()
    if mode in (RollupMode.USE, RollupMode.READ) and len(wanted):
        earliest = date.fromordinal(int(wanted["day"].min()))
        stored = source.rollup(group, wanted, earliest, date.fromordinal(int(wanted["day"].max())))
    if len(stored.table):
        have = stored.table.index
        pairs = pd.MultiIndex.from_arrays([open_rows["fac"].to_numpy(), open_rows["day"].to_numpy()])
        open_rows = open_rows[~pairs.isin(have)]
    ranges = slot_runs(open_rows["slot"].to_numpy(), MERGE_GAP_SLOTS)
    readings = source.aggregates([f.id for f in group], ranges) if ranges else _no_readings()
    fresh = figures.day_summaries(open_rows, readings)
    closed_active = _closed_activity(source, group, frame)
    saved = 0
    if mode in (RollupMode.USE, RollupMode.REBUILD):
        lines = rollup.rollup_lines(fresh, group, settle.with_data, settle.without_data, calendar)
        if lines:
            source.save_rollup(lines)
            saved = len(lines)
    both = Days.concat([stored, fresh])
    table = figures.window_table(both, frame, first_days, [f.capacity for f in group])
    first = np.array(first_days, dtype=np.int64)
    current = both.select(lambda fac, day: day >= first[fac])
    return GroupResult(figures.figures_by_facility(table, len(group)), len(stored.table), len(fresh.table), saved,
                       current, closed_active)


def _closed_activity(source: Source, group: Sequence[Facility], frame: pd.DataFrame) -> dict[int, int]:
    """Activity on the current window's closure days: only the facilities closed then are asked, and only for
    those days (every run, since closure days are few and never kept in the rollup)."""
    closed = frame[frame["closed"].to_numpy() & (frame["period"].to_numpy() == figures.CURRENT)]
    if not len(closed):
        return {}
    codes = np.unique(closed["fac"].to_numpy(np.int64))
    ranges = slot_runs(closed["slot"].to_numpy(), MERGE_GAP_SLOTS)
    readings = source.aggregates([group[int(c)].id for c in codes], ranges)
    readings = readings.assign(fac=codes[readings["fac"].to_numpy(np.int64)])
    return integrity_days.closed_activity(closed, readings)


def _no_readings() -> pd.DataFrame:
    empty = {"fac": np.empty(0, np.int64), "slot": np.empty(0, np.int64)}
    return pd.DataFrame({**empty, **{c: np.empty(0, np.float64) for c in figures.READING_COLUMNS}})


def closure_reasons(facility: Facility, window: Window) -> tuple[str, ...]:
    """Why the facility was closed during the window, each reason once."""
    found = (c.reason for c in facility.closures if c.start <= window.last_day and c.end >= window.first_day)
    return tuple(dict.fromkeys(found))


def assemble(
    facilities: Sequence[Facility], found: Sequence[tuple[Figures, Figures]], rules: Rules, as_of: date, days: int,
    checked: Sequence[Integrity] | None = None,
) -> AnalysisRun:
    """Classify each facility, compare it with its previous window and rank it among its type; ``checked`` is
    each facility's integrity (none found when not given)."""
    partial = []
    for facility, (current, previous) in zip(facilities, found, strict=True):
        window, previous_window = windows(as_of, days, facility.timezone)
        limits = rules.for_type(facility.type)
        verdict = classify(current, facility.capacity, limits, closure_reasons(facility, window))
        partial.append((facility, current, previous, window, previous_window, limits, verdict))
    ranks = compare.type_percentiles([(p[0].type, p[6].status, p[1]) for p in partial])
    results = []
    flags = checked if checked is not None else [Integrity()] * len(partial)
    for (facility, current, previous, window, previous_window, limits, verdict), (rank, peers), flag in zip(
        partial, ranks, flags, strict=True
    ):
        results.append(
            FacilityResult(
                facility_id=facility.id,
                name=facility.name,
                type=facility.type,
                region=facility.region,
                department=facility.department,
                capacity=facility.capacity,
                status=verdict.status,
                figures=current,
                window=window,
                reasons=verdict.reasons,
                fired=verdict.fired,
                thresholds=limits.status_thresholds(),
                previous=previous,
                previous_window=previous_window,
                change=compare.change(current, previous),
                type_percentile=rank,
                type_peers=peers,
                integrity=flag,
            )
        )
    return AnalysisRun(as_of=as_of, window_days=days, facilities=tuple(results))


def check_integrity(ordered: Sequence[Facility], groups: Sequence[Sequence[Facility]], parts: list[GroupResult],
                    current: Sequence[Figures], rules: Rules, as_of: date, days: int) -> list[Integrity]:
    """Integrity for every facility of the run at once, since clones and lateness compare facilities.

    Takes each group's current days out of ``parts`` (leaving empty ones) as it renumbers them, and joins them
    one kind of rows at a time: the checks then run with one copy of the run's days in memory, not two."""
    if len(groups) != len(parts):
        raise ValueError(f"{len(groups)} groups but {len(parts)} group results")
    position = {f.id: index for index, f in enumerate(ordered)}
    recoded, closed_active = [], {}
    for index, group in enumerate(groups):
        codes = np.array([position[f.id] for f in group], dtype=np.int64)
        recoded.append(parts[index].current.recode(codes))
        closed_active.update({int(codes[code]): slots for code, slots in parts[index].closed_active.items()})
        parts[index] = replace(parts[index], current=Days.empty())
    reasons = [closure_reasons(f, windows(as_of, days, f.timezone)[0]) for f in ordered]
    limits = [rules.for_type(f.type) for f in ordered]
    return integrity.assess(_joined(recoded), ordered, limits, current, closed_active, reasons,
                            between_checks=release_free_memory)


def _joined(parts: list[Days]) -> Days:
    """Days.concat(parts), emptying ``parts``: each kind of rows is joined and its pieces let go before the next."""
    kept = [part for part in parts if len(part.table)]  # as Days.concat keeps them
    parts.clear()
    if not kept:
        return Days.empty()
    pieces = {name: [getattr(part, name) for part in kept] for name in ("table", "peaks", "checks", "prints",
                                                                        "arrivals")}
    kept.clear()
    joined = {}
    for name, frames in pieces.items():
        frame = pd.concat(frames, ignore_index=name not in ("table", "checks"))
        frames.clear()
        joined[name] = _by_facility_and_day(frame, indexed=name in ("table", "checks")) if name in _READ_AS_ROWS \
            else frame
        del frame
        release_free_memory()  # the pieces and the unsorted copy, before the next kind is joined
    return Days(**joined)


#: The kinds of rows the integrity checks read as series.Rows, which want them by (facility, day): sorted here,
#: one kind at a time, Rows.of takes views of them instead of sorted copies of all at once.
_READ_AS_ROWS = ("table", "checks", "peaks")


def _by_facility_and_day(frame: pd.DataFrame, indexed: bool) -> pd.DataFrame:
    """``frame`` in (fac, day) order, rows of one (fac, day) in their order (a stable sort, as Rows.of's)."""
    fac = np.asarray(frame.index.get_level_values("fac") if indexed else frame["fac"], np.int64)
    day = np.asarray(frame.index.get_level_values("day") if indexed else frame["day"], np.int64)
    order = facility_day_order(fac, day)
    if order is None:
        return frame
    return frame.take(order) if indexed else frame.take(order).reset_index(drop=True)


def add_revisions(source: Source, ordered: Sequence[Facility], checked: Sequence[Integrity], rules: Rules,
                  as_of: date, days: int) -> list[Integrity]:
    """The revisions finding of each facility (one query for the run), beside its other findings. The answer may
    hold other facilities' revisions too (integrity_revisions.MAX_NAMED): only the run's are looked up."""
    bounds = {f.id: window_ns(windows(as_of, days, f.timezone)[0]) for f in ordered}
    if not bounds:
        return list(checked)
    found = source.revisions(list(bounds), min(b[0] for b in bounds.values()), max(b[1] for b in bounds.values()))
    by_facility = {str(fid): rows for fid, rows in found.groupby("facility", sort=False)} if len(found) else {}
    result = []
    for facility, flag in zip(ordered, checked, strict=True):
        start, end = bounds[facility.id]
        rows = by_facility.get(facility.id, found.iloc[:0])
        rows = rows[(rows["ts_ns"] >= start) & (rows["ts_ns"] < end)]
        extra = integrity_revisions.finding(rows, rules.for_type(facility.type).integrity) if len(rows) else None
        result.append(Integrity((*flag.findings, extra)) if extra is not None else flag)
    return result


def window_ns(window: Window) -> tuple[int, int]:
    """[start, end) of a window's local days, in epoch nanoseconds."""
    zone = ZoneInfo(window.timezone)
    start = datetime.combine(window.first_day, dt_time(), zone)
    end = datetime.combine(window.last_day + timedelta(days=1), dt_time(), zone)
    return int(start.timestamp()) * 1_000_000_000, int(end.timestamp()) * 1_000_000_000


def analyze(
    source: Source,
    facilities: Sequence[Facility],
    rules: Rules,
    as_of: date,
    days: int,
    *,
    mode: RollupMode = RollupMode.USE,
    settle: Settle | None = None,
    group_size: int = DEFAULT_GROUP_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    calendar: Calendar = NO_CALENDAR,
) -> AnalysisRun:
    """Analyse ``facilities`` over the ``days`` whole days before ``as_of``; ``settle`` says which days are
    final enough to keep in the rollup (default: Settle.from_today); ``calendar`` is China's working calendar
    (analytics.analysis.calendar_data.load_calendar), which the facilities' holiday policies follow."""
    started = time.monotonic()
    settled = settle or Settle.from_today(SYSTEM.today())
    ordered = sorted(facilities, key=lambda f: f.id)
    # Facilities with the same hours share a group, so each group's queries cover little beyond its hours.
    alike = sorted(ordered, key=lambda f: (f.timezone, week_hours(f), f.id))
    groups = [alike[i : i + group_size] for i in range(0, len(alike), group_size)]
    def work(group: Sequence[Facility]) -> GroupResult:
        try:
            return group_figures(source, group, as_of, days, mode, settled, calendar)
        finally:
            source.release()

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="analyze") as pool:
        parts = list(pool.map(work, groups))
    release_free_memory()  # the groups' working memory, in the worker threads' arenas
    found = {f.id: pair for group, part in zip(groups, parts, strict=True)
             for f, pair in zip(group, part.figures, strict=True)}
    pairs = [found[f.id] for f in ordered]
    checked = check_integrity(ordered, groups, parts, [p[0] for p in pairs], rules, as_of, days)
    checked = add_revisions(source, ordered, checked, rules, as_of, days)
    run = assemble(ordered, pairs, rules, as_of, days, checked)
    log.info(
        "analysed %d facilities in %d groups in %.1f s (days: %d from the rollup, %d from readings, %d stored): %s",
        len(ordered), len(groups), time.monotonic() - started, sum(p.stored_days for p in parts),
        sum(p.raw_days for p in parts), sum(p.saved for p in parts), run.counts(),
    )
    return run
