"""Detection and false-flag rates of the integrity detectors over many seeds of the simulator's profiles.

In process (bench/integrity_frames.py): per seed one network of honest facilities of four types (normal, busy,
underused, flaky) and two of each honest pattern (full_house, stable_group, quiet, neighbour, weather,
weekly_class, outage, buffered; the neighbour and weather ones share one region) with one facility of each forgery, 28
days. A detector's detection rate: the share of runs in which the forgery meant for it was flagged by it; its
false-flag rate: the share of honest facility-runs it flagged. Usage: python bench/integrity_rates.py --seeds 20
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.analysis.model import Detector
from analytics.analysis.rules import load_rules
from bench.integrity_frames import HOURS, facility_entry, judge, registry_of

HONEST = ("normal", "busy", "underused", "flaky")
PATTERNS = {"full_house": "library", "stable_group": "elderly_care", "quiet": "community_center",
            "neighbour": "library", "weather": "sports_hall", "weekly_class": "community_center",
            "outage": "library", "buffered": "library"}
#: forgery -> (facility type, the detector meant to catch it)
FORGED = {"forged_noisy_copy": ("library", Detector.NEAR_COPY), "forged_memoryless": ("library", Detector.NO_MEMORY),
          "forged_jittered_days": ("library", Detector.SIMILAR_DAYS),
          "forged_digits": ("library", Detector.DIGIT_PREFERENCE), "forged_flat": ("library", Detector.FLAT_LINE),
          "forged_copy": ("library", Detector.COPIED_DAYS)}


def network() -> list[dict[str, object]]:
    entries = [facility_entry(f"{kind[:3]}-{profile}-{k}", kind, profile)
               for kind in HOURS for profile in HONEST for k in range(2)]
    entries += [facility_entry(f"{profile}-{k}", kind, profile) for profile, kind in PATTERNS.items() for k in range(2)]
    for profile, (kind, _) in FORGED.items():
        source = "lib-normal-0" if profile == "forged_noisy_copy" else None
        entries.append(facility_entry(profile.replace("_", "-"), kind, profile, source))
    return entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rules", default=str(Path(__file__).resolve().parent.parent / "examples" / "rules.yaml"))
    args = parser.parse_args()
    rules = load_rules(args.rules)
    registry = registry_of(network())
    caught: Counter[str] = Counter()
    false_flags: Counter[Detector] = Counter()
    pattern_flags: Counter[str] = Counter()
    honest_runs = 0
    started = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        found = judge(registry, seed, rules=rules)
        for fid, result in found.items():
            profile = fid.replace("-", "_")
            if profile in FORGED:
                caught[profile] += FORGED[profile][1] in result.detectors
            elif fid != "lib-normal-0":  # the noisy copy's source: flagged with it, as a clone's is
                honest_runs += 1
                false_flags.update(set(result.detectors))
                base = fid.rsplit("-", 1)[0].replace("-", "_")
                if base in PATTERNS and result.suspect:
                    pattern_flags[base] += 1
    print(f"{args.seeds} seeds x {len(registry.facilities)} facilities, 28 days each, "
          f"{time.perf_counter() - started:.0f} s")
    print("| detector | forgery | detection rate | false-flag rate (honest facility-runs) |")
    print("| --- | --- | --- | --- |")
    for profile, (_, detector) in FORGED.items():
        print(f"| `{detector}` | `{profile}` | {caught[profile]}/{args.seeds} | "
              f"{false_flags[detector]}/{honest_runs} |")
    for detector in Detector:
        if detector not in {d for _, d in FORGED.values()}:
            print(f"| `{detector}` | — | — | {false_flags[detector]}/{honest_runs} |")
    for pattern in PATTERNS:
        print(f"honest {pattern}: flagged in {pattern_flags[pattern]} of {2 * args.seeds} facility-runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
