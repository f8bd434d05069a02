"""National roll-up benchmark: how big a province's status export is per facility and per day, and what merging
a country's exports costs (`facmon national merge`, docs/scaling.md).

No InfluxDB: the export is built from an analysis run (analytics.national.export), so this builds one province's
run the way `facmon analyze` would — the sample county's facilities (names, types, regions) repeated to F
facilities, each classified by the real rules from figures that give the demo county's mix (5 IDLE, 6 UNDERUSED,
1 NO_DATA, 1 EXEMPT, 58 ACTIVE in every 71) and the demo's 11 integrity findings (on ACTIVE facilities, as there)
in every 71, with the evidence keys each detector writes — and renders its export. The other provinces' exports
are that one with their own deployment name, ids and regions. The merge runs as a child process (`python -m facmon
national merge --format json --out FILE`) whose peak resident memory comes from wait4.

    python bench/national.py                                   # 30 provinces x 20,000 facilities
    python bench/national.py --provinces 2 --facilities 2000   # the quick check
    python bench/national.py --format table                    # the merge writing the table instead
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path

# This directory holds bench/ingest.py, which would shadow the ingest package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from analytics.analysis.engine import assemble  # noqa: E402
from analytics.analysis.model import AnalysisRun, Detector, Figures, Finding, Integrity  # noqa: E402
from analytics.analysis.rules import Rules  # noqa: E402
from analytics.national.export import render_export  # noqa: E402
from facmon.core.version import facmon_version  # noqa: E402
from sensors.registry import load_registry  # noqa: E402

AS_OF = date(2026, 11, 28)
DAYS = 28
TEMPLATE = "p00"  # the first province's name, id prefix and region root; the others replace it
_HOURS = {"open_hours": 224.0, "covered_hours": 224.0, "open_days": 28, "observed_days": 28, "closed_share": 0.0,
          "coverage": 1.0, "reports_occupancy": True, "reports_entries": True}
#: Of every 71 facilities (the demo county's mix): 5 IDLE, 6 UNDERUSED, 1 NO_DATA, 1 EXEMPT, 58 ACTIVE.
MIX = ("idle",) * 5 + ("underused",) * 6 + ("no_data", "exempt") + ("active",) * 58
#: The 3,755 common characters (GB 2312 level 1) that place names are drawn from.
COMMON = [bytes((hi, lo)).decode("gb2312") for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)
          if (hi, lo) <= (0xD7, 0xF9)]


def figures(kind: str, rng: random.Random) -> Figures:
    """Figures that give `kind`, each facility's own (its numbers vary as real ones do)."""
    if kind == "idle":
        idle = rng.randint(23, 28)
        return Figures(**{**_HOURS, "idle_days": idle, "idle_day_share": idle / 28},
                       occupancy_rate=rng.uniform(0, 0.02), peak_rate=rng.uniform(0, 0.1),
                       visits_per_open_day=rng.uniform(0, 3))
    if kind == "underused":
        return Figures(**_HOURS, occupancy_rate=rng.uniform(0.01, 0.099), peak_rate=rng.uniform(0.05, 0.3),
                       visits_per_open_day=rng.uniform(5, 80), idle_day_share=rng.randint(0, 5) / 28)
    if kind == "no_data":
        covered = rng.randint(40, 260) / 4
        return Figures(**{**_HOURS, "covered_hours": covered, "coverage": covered / 224},
                       occupancy_rate=rng.uniform(0.1, 0.5), peak_rate=rng.uniform(0.3, 0.9), idle_day_share=0.0)
    if kind == "exempt":
        closed = rng.randint(116, 224)
        return Figures(open_hours=224.0 - closed, closed_hours=float(closed), closed_share=closed / 224,
                       open_days=28 - closed // 8, observed_days=28 - closed // 8, coverage=1.0,
                       covered_hours=224.0 - closed)
    return Figures(**_HOURS, occupancy_rate=rng.uniform(0.1, 0.8), peak_rate=rng.uniform(0.3, 1.0),
                   visits_per_open_day=rng.uniform(50, 1500), idle_day_share=rng.randint(0, 4) / 28)


def finding(n: int, same_as: str, rng: random.Random) -> Finding:
    """The n-th of the demo county's 11 findings, with the evidence keys each detector writes
    (analytics/integrity) and numbers of this facility's own."""
    def r(low: float, high: float, digits: int = 3) -> float:
        return round(rng.uniform(low, high), digits)

    days = rng.randint(3, 28)
    evidence: list[tuple[Detector, dict[str, float | int | str]]] = [
        (Detector.CLONE, {"same_as": same_as, "days": days, "min_days": 3, "facilities": 1}),
        (Detector.CLONE, {"same_as": same_as, "days": days, "min_days": 3, "facilities": 1}),
        (Detector.NEAR_COPY, {"same_as": same_as, "correlation": r(0.6, 0.95), "lag_hours": rng.randint(-1, 1),
                              "hours": rng.randint(200, 600), "min_corr": 0.6}),
        (Detector.NEAR_COPY, {"same_as": same_as, "correlation": r(0.6, 0.95), "lag_hours": rng.randint(-1, 1),
                              "hours": rng.randint(200, 600), "min_corr": 0.6}),
        (Detector.FLAT_LINE, {"days": days, "longest_hours": rng.randint(12, 48) / 4, "value": float(rng.randint(
            1, 80)), "min_hours": 3.0, "min_days": 3}),
        (Detector.SIMILAR_DAYS, {"distance": r(0.01, 0.06, 4), "peer_distance": r(0.08, 0.2, 4), "days": days,
                                 "mean_peak": r(10, 200, 1), "peers": rng.randint(3, 60), "ratio": 0.5}),
        (Detector.NO_MEMORY, {"lag1_autocorrelation": r(-0.2, 0.34), "pairs": rng.randint(200, 900),
                              "mean_occupancy": r(10, 80, 1), "max": 0.35}),
        (Detector.DIGIT_PREFERENCE, {"values": rng.randint(200, 900), "chi_square": r(50, 600, 1),
                                     "p_value": float(f"{10 ** -rng.uniform(6, 90):.3g}"), "distance": r(0.2, 0.6),
                                     "share_0_or_5": r(0.3, 0.9), "spread": r(5, 60, 1), "max_p": 1e-6}),
        (Detector.COPIED_DAYS, {"days": days, "compared_days": 28, "tolerance": 0.05, "min_days": 3}),
        (Detector.LATE_ARRIVAL, {"late_hours": rng.randint(30, 200), "hours_with_data": rng.randint(200, 448),
                                 "median_lateness_hours": r(6, 200, 1), "threshold_hours": 6.0,
                                 "coverage_without_late": r(0.2, 0.9)}),
        (Detector.TOO_REGULAR, {"same_total_days": days, "total": rng.randint(10, 500), "days_with_use": 28}),
    ]
    detector, numbers = evidence[n]
    return Finding(detector, "", numbers)


def _renamed(name: str, rng: random.Random) -> str:
    """The county facility's name in another place: its place words (the first two characters, and the two
    before 村) drawn afresh, its kind (文化礼堂, 居家养老服务中心 …) kept; the same length."""
    chars = list(name)
    chars[:2] = rng.choices(COMMON, k=2)
    village = name.find("村")
    if village >= 4:
        chars[village - 2 : village] = rng.choices(COMMON, k=2)
    return "".join(chars)


def province_run(count: int, seed: int = 1) -> AnalysisRun:
    """`count` facilities of the sample county's kinds, in TEMPLATE's regions, classified by the real rules."""
    rng = random.Random(seed)
    county = list(load_registry(Path(str(resources.files("facmon.resources").joinpath("county.yaml")))))
    facilities = []
    for i in range(count):
        base = county[i % len(county)]
        block = i // len(county)
        tail = base.region.split("/", 3)[-1]  # the town, below zhejiang/lishui/jinyun
        region = f"{TEMPLATE}/city{block % 11:02d}/county{block % 97:03d}/{tail}"
        facilities.append(base.model_copy(update={
            "id": f"{TEMPLATE}-{base.id}-{block:04d}", "region": region, "simulation": None,
            "name": base.name if block == 0 else _renamed(base.name, rng)}))
    found = [(figures(MIX[i % len(MIX)], rng), figures(MIX[i % len(MIX)], rng)) for i in range(count)]
    run = assemble(facilities, found, Rules(), AS_OF, DAYS)
    position = {f.id: i for i, f in enumerate(facilities)}
    results = []
    for result in run.facilities:
        i = position[result.facility_id]
        if i % 71 >= 60:  # the demo county's 11 suspect facilities in every 71, ACTIVE as there
            partner = facilities[i - 1 if i % 2 else min(i + 1, count - 1)].id
            result = replace(result, integrity=Integrity((finding(i % 71 - 60, partner, rng),)))
        results.append(result)
    return replace(run, facilities=tuple(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provinces", type=int, default=30)
    parser.add_argument("--facilities", type=int, default=20_000, help="per province")
    parser.add_argument("--format", choices=("json", "table"), default="json", help="the merge's output")
    args = parser.parse_args()

    started = time.monotonic()
    run = province_run(args.facilities)
    built = time.monotonic() - started
    started = time.monotonic()
    template = render_export(run, TEMPLATE, facmon_version())
    rendered = time.monotonic() - started
    packed = gzip.compress(template)
    per_facility, gzip_per_facility = len(template) / args.facilities, len(packed) / args.facilities
    print(f"one province: {args.facilities:,} facilities, {run.counts()}, "
          f"{sum(r.integrity.suspect for r in run.facilities):,} with findings (run built in {built:.1f} s)")
    print(f"  export {len(template) / 2**20:.2f} MiB ({per_facility:.0f} B a facility), gzip "
          f"{len(packed) / 2**20:.2f} MiB ({gzip_per_facility:.0f} B a facility), rendered in {rendered:.2f} s")

    with tempfile.TemporaryDirectory(prefix="facmon-national-") as tmp:
        paths = []
        for k in range(args.provinces):
            path = Path(tmp) / f"p{k:02d}.json"
            path.write_bytes(template.replace(TEMPLATE.encode(), f"p{k:02d}".encode()))
            paths.append(str(path))
        out = Path(tmp) / "national.json"
        command = [sys.executable, "-m", "facmon", "national", "merge", *paths, "--format", args.format,
                   "--out", str(out)]
        started = time.monotonic()
        child = subprocess.Popen(command, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        merge_s = time.monotonic() - started
        assert child.stderr is not None
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"merge failed: {child.stderr.read().decode()}")
        view_bytes = out.stat().st_size
    total = args.provinces * args.facilities
    peak_mib = usage.ru_maxrss / 1024
    print(f"national: {args.provinces} exports, {total:,} facilities: merged in {merge_s:.1f} s (CPU "
          f"{usage.ru_utime + usage.ru_stime:.1f} s), peak {peak_mib:.0f} MiB; the view ({args.format}) "
          f"{view_bytes / 2**20:.1f} MiB; a day's exports {args.provinces * len(template) / 2**20:.1f} MiB, "
          f"gzip {args.provinces * len(packed) / 2**20:.1f} MiB")
    print(f"NATIONAL provinces={args.provinces} facilities={total} export_bytes_per_facility={per_facility:.0f} "
          f"gzip_bytes_per_facility={gzip_per_facility:.0f} merge_s={merge_s:.1f} peak_mib={peak_mib:.0f}")


if __name__ == "__main__":
    main()
