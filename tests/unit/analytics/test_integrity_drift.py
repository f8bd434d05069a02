"""counts_drift (issue 14, "counts that do not add up over time") on simulated networks, in process, over
several seeds: entries inflated without the people ever showing in the occupancy are caught; a smaller inflation
(the near miss), a door counter that misses a few people, and the honest profiles (a full house and a stable
group among them) are not."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from analytics.analysis.model import Detector, Integrity
from bench.integrity_frames import facility_entry, judge, registry_of

SEEDS = (1, 2, 3)
FORGER = "inflated"


def network() -> list[dict[str, object]]:
    entries = [facility_entry(f"{kind[:3]}-{profile}-{k}", kind, profile)
               for kind in ("library", "community_center", "elderly_care", "sports_hall")
               for profile in ("normal", "busy", "flaky", "underused") for k in range(2)]
    return [*entries, facility_entry(FORGER, "community_center", "normal"),
            facility_entry("full-house", "library", "full_house"),
            facility_entry("stable-group", "elderly_care", "stable_group")]


def inflate(factor: float, seed: int) -> Callable[[pd.DataFrame, dict[str, int]], pd.DataFrame]:
    """The forger's entries: each quarter hour's counted entries plus about (factor - 1) of them again, no exits."""
    def alter(frame: pd.DataFrame, codes: dict[str, int]) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        out = frame.copy()
        mine = (out["fac"] == codes[FORGER]).to_numpy()
        counted = out.loc[mine, "entries"].to_numpy().astype(np.int64)
        out.loc[mine, "entries"] = counted + rng.binomial(counted, factor - 1)
        return out
    return alter


def lossy(seed: int) -> Callable[[pd.DataFrame, dict[str, int]], pd.DataFrame]:
    """Every counter misses about 5 % of the people passing, in and out alike."""
    def alter(frame: pd.DataFrame, codes: dict[str, int]) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        out = frame.copy()
        for name in ("entries", "exits"):
            counted = np.nan_to_num(out[name].to_numpy()).astype(np.int64)
            out[name] = np.where(out[name].isna(), np.nan, counted - rng.binomial(counted, 0.05))
        return out
    return alter


def flagged(found: dict[str, Integrity]) -> set[str]:
    return {fid for fid, result in found.items() if Detector.COUNTS_DRIFT in result.detectors}


@pytest.mark.parametrize("seed", SEEDS)
def test_entries_inflated_by_half_are_caught_with_numbers(seed: int) -> None:
    found = judge(registry_of(network()), seed, alter=inflate(1.5, seed))
    assert flagged(found) == {FORGER}
    finding = next(f for f in found[FORGER].findings if f.detector is Detector.COUNTS_DRIFT)
    assert finding.evidence["days"] >= 20
    assert finding.reason.startswith("counts do not add up over the day: occupancy drifted from entries minus exits")
    assert "cannot say which figure is wrong" in finding.reason
    # What the quarter-hour check cannot see: more entries than needed always "explain" a rise.
    assert Detector.IMPOSSIBLE_COUNTS not in found[FORGER].detectors


@pytest.mark.parametrize("seed", SEEDS)
def test_a_smaller_inflation_is_a_near_miss(seed: int) -> None:
    assert flagged(judge(registry_of(network()), seed, alter=inflate(1.15, seed))) == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_counts_and_a_counter_that_misses_people_raise_nothing(seed: int) -> None:
    registry = registry_of(network())
    assert flagged(judge(registry, seed)) == set()
    assert flagged(judge(registry, seed, alter=lossy(seed))) == set()
