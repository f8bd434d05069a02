"""The report's charts, each facility's drawn once: in this process for a few, by a pool of processes (one per
core) for many, since matplotlib draws about ten a second on one core and a province flags thousands.

A facility both flagged and data suspect appears twice in the HTML report, with the same chart: it is drawn once
and shown twice. The workers speak the report's language (the charts' titles and legends are translated).
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager

from matplotlib.figure import Figure

from analytics.report.chart_days import CLOSED_LABEL, NO_DATA_LABEL, Day, day_kinds
from analytics.report.data import DailyUse, StatusRow
from analytics.report.fonts import use_cjk_font
from facmon.core.i18n import _, current, set_language

#: Above this many charts they are drawn by a pool of processes; at or below it, here (a pool costs its start).
POOL_ABOVE = 40
#: A progress callback: (charts drawn, charts to draw).
Progress = Callable[[int, int], None]
_BATCH = 8  # charts per task: fewer hand-overs, still an even share of the work between the cores


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


def chart_png(row: StatusRow, use: DailyUse | None) -> bytes:
    """Daily peak occupancy (or visits, or uses) over the window against capacity, as PNG bytes."""
    out = io.BytesIO()
    chart_figure(row, use).savefig(out, format="png")
    return out.getvalue()


def chart_figure(row: StatusRow, use: DailyUse | None) -> Figure:
    """The chart: bars of daily use, closed days hatched and open days without data grey, each in the legend;
    words in the current language, drawn with a CJK font when one is installed (analytics.report.fonts)."""
    use_cjk_font()
    days = list(use.days) if use is not None else [row.window.first_day]
    if use is not None and use.peak:
        values, label = [use.peak.get(d) for d in days], _("peak occupancy (people)")
        means = [use.mean.get(d) for d in days]
    elif use is not None and (use.entries or use.uses):
        series = use.entries or use.uses
        values, means = [series.get(d) for d in days], []
        label = _("visits per day") if use.entries else _("uses per day")
    else:
        values, label, means = [None for _day in days], _("no data"), []
    figure = Figure(figsize=(8, 2.8), dpi=100)
    axes = figure.subplots()
    positions = range(len(days))
    axes.bar(positions, [v or 0 for v in values], color="#4a78b5", label=label)
    kinds = day_kinds(days, values, row.closed_days)
    for index, kind in enumerate(kinds):
        first = kinds.index(kind) == index  # one legend entry per kind
        if kind is Day.NO_DATA:
            axes.axvspan(index - 0.5, index + 0.5, color="#bbbbbb", zorder=0, label=_(NO_DATA_LABEL) if first else None)
        elif kind is Day.CLOSED:
            axes.axvspan(index - 0.5, index + 0.5, facecolor="#f4f1e8", edgecolor="#c9bfa5", hatch="//", linewidth=0,
                         zorder=0, label=_(CLOSED_LABEL) if first else None)
    if means:
        axes.plot(positions, [m if m is not None else float("nan") for m in means], color="#e08a1e", marker=".",
                  label=_("mean occupancy while reporting"))
    axes.axhline(row.capacity, color="#b3261e", linestyle="--",
                 label=_("capacity {capacity}").format(capacity=row.capacity))
    axes.set_ylim(0, max([row.capacity * 1.4, *(v * 1.4 for v in values if v)]))  # room for the legend
    step = max(1, len(days) // 10)
    axes.set_xticks(list(positions)[::step], [d.strftime("%m-%d") for d in days][::step])
    axes.set_title(_("{facility}: daily use, {first} to {last} ({timezone}); hatched = closed, grey = no data "
                     "while open").format(facility=row.facility, first=days[0], last=days[-1],
                                          timezone=row.window.timezone), fontsize=9)
    axes.legend(fontsize=7, loc="upper left", ncol=3)
    axes.tick_params(labelsize=8)
    figure.tight_layout()
    return figure


def _draw(batch: Sequence[tuple[StatusRow, DailyUse | None]]) -> list[tuple[str, bytes]]:
    return [(row.facility, chart_png(row, use)) for row, use in batch]


def _start_worker(language: str) -> None:
    set_language(language)


@contextmanager
def chart_pool(charts: int, workers: int | None = None, pool_above: int = POOL_ABOVE) -> Iterator[Executor | None]:
    """A pool of ``workers`` processes (default one per core) to draw ``charts`` charts, or None when there are
    at most ``pool_above`` of them or one worker (drawn here then)."""
    count = cores() if workers is None else max(1, workers)
    if charts <= pool_above or count == 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # no copy of this process's threads and open connections
    with ProcessPoolExecutor(max_workers=min(count, -(-charts // _BATCH)), mp_context=context,
                             initializer=_start_worker, initargs=(current(),)) as pool:
        yield pool


def draw_charts(rows: Sequence[StatusRow], daily: Mapping[str, DailyUse], pool: Executor | None = None,
                progress: Progress | None = None) -> dict[str, bytes]:
    """Each distinct facility's chart as PNG bytes, by facility id, drawn by ``pool`` (None: here)."""
    unique = list({row.facility: row for row in rows}.values())
    total, done = len(unique), 0
    out: dict[str, bytes] = {}
    batches = [[(row, daily.get(row.facility)) for row in unique[i : i + _BATCH]] for i in range(0, total, _BATCH)]
    drawn: Iterable[list[tuple[str, bytes]]]
    if pool is None:
        drawn = (_draw(batch) for batch in batches)
    else:
        drawn = (future.result() for future in as_completed([pool.submit(_draw, batch) for batch in batches]))
    for charts in drawn:
        out.update(charts)
        done += len(charts)
        if progress is not None:
            progress(done, total)
    return {row.facility: out[row.facility] for row in unique}
