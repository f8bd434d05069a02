"""Two provinces' hand-made runs and their status exports, for the national export and merge tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from analytics.analysis.engine import assemble
from analytics.analysis.model import AnalysisRun, Detector, Figures, Finding, Integrity
from analytics.analysis.rules import Rules
from analytics.national.export import render_export
from tests.unit.analytics.helpers import facility

AS_OF = date(2025, 11, 3)
BUSY = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, coverage=1.0,
               closed_share=0.0, occupancy_rate=0.3, peak_rate=0.6, idle_day_share=0.0, reports_occupancy=True)
LOW = replace(BUSY, occupancy_rate=0.05)
IDLE = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, idle_days=28, coverage=1.0,
               closed_share=0.0, occupancy_rate=0.0, peak_rate=0.0, idle_day_share=1.0, reports_occupancy=True)
QUIET = Figures(open_hours=224.0, open_days=28, coverage=0.0, closed_share=0.0)
FLAT = Finding(Detector.FLAT_LINE, "occupancy constant at 30 for up to 12 h on 28 open days (≥ 3 h on ≥ 3 days)",
               {"value": 30.0, "days": 28, "longest_hours": 12.0, "min_hours": 3.0, "min_days": 3})


def province(region: str, ids: tuple[str, ...], as_of: date = AS_OF, days: int = 28) -> AnalysisRun:
    """A busy library with forged-looking data, an idle hall, an underused one and a silent library."""
    facilities = [facility(ids[0], name="图书馆 Busy", region=region),
                  facility(ids[1], type="sports_hall", region=region),
                  facility(ids[2], type="sports_hall", region=region),
                  facility(ids[3], region=region + "/village")]
    run = assemble(facilities, [(BUSY, QUIET), (IDLE, IDLE), (LOW, BUSY), (QUIET, BUSY)], Rules(), as_of, days)
    first, *rest = run.facilities
    return replace(run, facilities=(replace(first, integrity=Integrity((FLAT,))), *rest))


ZJ = ("zj-lib-1", "zj-hall-1", "zj-hall-2", "zj-lib-2")
FJ = ("fj-lib-1", "fj-hall-1", "fj-hall-2", "fj-lib-2")


def zhejiang() -> bytes:
    return render_export(province("zhejiang/wenzhou/lucheng", ZJ), "zhejiang", "0.1.0")


def fujian() -> bytes:
    return render_export(province("fujian/xiamen/siming", FJ), "fujian", "0.2.0")
