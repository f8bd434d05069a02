"""The honest patterns of issue 14 that look odd — a quiet facility of mostly zeros, neighbours and a region whose
days rise and fall together (weather, holidays, local events), a weekly class, a two-day sensor outage, a device
that uploads its buffer every few hours — raise no integrity flag, over several seeds (in process: the simulator's
readings judged by analytics.integrity, as bench/integrity_rates.py measures them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.analysis.rules import load_rules
from bench.integrity_frames import HOURS, facility_entry, judge, registry_of

ROOT = Path(__file__).resolve().parents[3]
PATTERNS = {"quiet": "community_center", "neighbour": "library", "weather": "sports_hall",
            "weekly_class": "community_center", "outage": "library", "buffered": "library"}


def network() -> list[dict[str, object]]:
    """Two normal facilities of each type (the peers the network checks compare with) and two of each pattern,
    all in one region: the neighbours and the weather-driven halls share its days."""
    entries = [facility_entry(f"{kind[:3]}-normal-{k}", kind, "normal") for kind in HOURS for k in range(2)]
    entries += [facility_entry(f"{profile}-{k}", kind, profile) for profile, kind in PATTERNS.items() for k in range(2)]
    return entries


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_detector_flags_the_honest_patterns(seed: int) -> None:
    found = judge(registry_of(network()), seed, rules=load_rules(ROOT / "examples" / "rules.yaml"))
    assert len(found) == 20
    assert {fid: result.reasons for fid, result in found.items() if result.suspect} == {}
