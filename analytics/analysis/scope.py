"""What a `facmon analyze` run covers, apart from what it shows: one facility, one verdict.

Clone and late_arrival compare a facility with the rest of the network, and the type percentile ranks it among
its type, so a run narrowed to a few facilities would judge them against a smaller network than the full run and
reach other verdicts (a clone whose partner was filtered out looks clean, and its stored "cleared" would be a false
all-clear). A run with ``--facility``/``--region`` therefore analyses the whole registry and shows only the
facilities asked for: their verdicts are the full run's, whatever the filter. It costs a full run's reading
(mostly from the rollup).

A filtered run is read-only unless ``--store`` says otherwise: it writes no status, no rollup day and no alert
state, so the commands that alerts and reports suggest (``facmon analyze --facility ...``) can be run by anyone
without side effects. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from facmon.core.errors import ConfigError

if TYPE_CHECKING:
    from analytics.analysis.model import AnalysisRun
    from sensors.registry import Facility


class ScopeError(ConfigError, ValueError):
    """An id the registry lacks or a region without facilities; the message names every one."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The facility ids a run shows (None: all of them)."""

    shown: frozenset[str] | None = None

    @property
    def filtered(self) -> bool:
        return self.shown is not None

    def narrow(self, run: AnalysisRun) -> AnalysisRun:
        """The run's results for the shown facilities only, each exactly as the whole run computed it."""
        if self.shown is None:
            return run
        shown = self.shown
        return replace(run, facilities=tuple(r for r in run.facilities if r.facility_id in shown))

    def stores(self, store: bool, no_store: bool) -> bool:
        """Whether the run writes statuses, rollup and alert state: an unfiltered run unless --no-store, a
        filtered one only with --store."""
        if no_store:
            return False
        return store or not self.filtered


def scope_of(facilities: Sequence[Facility], ids: Collection[str] | None, region: str | None) -> Scope:
    """The scope of ``--facility`` ids and ``--region``; raises ScopeError naming every id the registry lacks."""
    if not ids and region is None:
        return Scope()
    chosen = list(facilities)
    if ids:
        known = {f.id for f in chosen}
        missing = [fid for fid in ids if fid not in known]
        if missing:
            raise ScopeError(f"not in the registry: {', '.join(missing)}")
        wanted = set(ids)
        chosen = [f for f in chosen if f.id in wanted]
    if region is not None:
        chosen = [f for f in chosen if f.region_matches(region)]
        if not chosen:
            raise ScopeError(f"no facility in region {region!r}")
    return Scope(frozenset(f.id for f in chosen))
