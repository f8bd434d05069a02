"""Status rules: the thresholds, their per-type overrides from a YAML file, and the pure classification.

Precedence, first match wins: EXEMPT (closed on purpose most of the time), NO_DATA (too little sensor data to
judge: a sensor problem, never an idle alert), IDLE, UNDERUSED, ACTIVE. Values within 1e-9 of a threshold count
as equal to it, so a hand-made 60.0% is not taken for 59.99999%.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationError

from analytics.analysis.model import Figures, Fired, Status
from analytics.integrity.rules import IntegrityOverrides, IntegrityThresholds
from facmon.core.config import ConfigFileError, StrictModel, problems
from facmon.core.i18n import _
from sensors.registry import RegistryError, read_yaml_file

EPSILON = 1e-9
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
TypeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class RulesError(ConfigFileError):
    """The rules file is unusable; one problem per line."""


class Thresholds(StrictModel):
    """Every threshold with its default; the rules file may change any of them, per facility type too."""

    exempt_closed_share: Fraction = 0.5  # EXEMPT when closed on purpose for more than this share of opening hours
    min_coverage: Fraction = 0.6  # NO_DATA when sensor data cover less than this share of opening hours
    idle_day_share: Fraction = 0.8  # IDLE when at least this share of open days saw no use at all
    min_occupancy_rate: Fraction = 0.1  # UNDERUSED when mean occupancy is below this share of capacity
    min_visits_per_capacity: float = Field(default=0.5, ge=0, le=100, allow_inf_nan=False)  # count-only sites
    integrity: IntegrityThresholds = IntegrityThresholds()  # the data-integrity detectors (analytics.integrity.assess)

    def status_thresholds(self) -> dict[str, float]:
        """The status rules' thresholds by name, as results report them."""
        return self.model_dump(exclude={"integrity"})


class Overrides(StrictModel):
    """Thresholds for one facility type; those left out keep the defaults."""

    exempt_closed_share: Fraction | None = None
    min_coverage: Fraction | None = None
    idle_day_share: Fraction | None = None
    min_occupancy_rate: Fraction | None = None
    min_visits_per_capacity: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    integrity: IntegrityOverrides | None = None


class Rules(StrictModel):
    """``defaults:`` thresholds plus ``types: {type: overrides}``."""

    defaults: Thresholds = Thresholds()
    types: dict[TypeName, Overrides] = Field(default_factory=dict)

    def for_type(self, facility_type: str) -> Thresholds:
        overrides = self.types.get(facility_type)
        if overrides is None:
            return self.defaults
        changes = {key: value for key, value in overrides.model_dump(exclude={"integrity"}).items()
                   if value is not None}
        if overrides.integrity is not None:
            changed = overrides.integrity.model_dump(exclude_none=True)
            changes["integrity"] = self.defaults.integrity.model_copy(update=changed)
        return self.defaults.model_copy(update=changes)


def parse_rules(data: object, source: str = "<rules>") -> Rules:
    """Validate the YAML data; an empty file means the defaults."""
    if data is None:
        return Rules()
    if not isinstance(data, Mapping):
        raise RulesError(f"{source}: the top level must be a mapping with 'defaults:' and/or 'types:'")
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(problems(exc), source) from None


def load_rules(path: str | os.PathLike[str] | None) -> Rules:
    """The rules file at ``path``, or the defaults when no file is given."""
    if path is None:
        return Rules()
    source = os.fspath(path)
    try:
        data = read_yaml_file(source)
    except RegistryError as exc:
        raise RulesError(str(exc)) from None
    return parse_rules(data, source)


# -- classification -------------------------------------------------------------------------------------------
def _pct(value: float, *others: float) -> str:
    """A percentage with as few decimals as keep it distinct from the threshold it is compared with."""
    for decimals in range(4):
        text = f"{value * 100:.{decimals}f}"
        if all(abs(value - other) <= EPSILON or text != f"{other * 100:.{decimals}f}" for other in others):
            return text + "%"
    return f"{value * 100:.4f}%"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0") if abs(value) < 1e6 else f"{value:.3g}"


def _hours(value: float) -> str:
    return _("{hours} h").format(hours=f"{value:g}")


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    fired: tuple[Fired, ...]
    reasons: tuple[str, ...]


def _underuse(figures: Figures, capacity: int, limits: Thresholds) -> tuple[Fired, str] | None:
    """(fired threshold or None, reason) for the occupancy rule, or the visits rule for count-only sites."""
    if figures.occupancy_rate is not None:
        rate, limit = figures.occupancy_rate, limits.min_occupancy_rate
        if rate < limit - EPSILON:
            text = _("mean occupancy {rate} of capacity (< {limit})").format(rate=_pct(rate, limit), limit=_pct(limit))
            return Fired("min_occupancy_rate", rate, limit, "<"), text
        return None
    per_day = figures.visits_per_open_day
    below = _("{count} visits per open day, below {floor} ({share} × capacity {capacity})")
    if per_day is None:
        per_day = figures.uses_per_open_day
        below = _("{count} uses per open day, below {floor} ({share} × capacity {capacity})")
    if per_day is None:
        return None
    floor = limits.min_visits_per_capacity * capacity
    if per_day < floor - EPSILON:
        text = below.format(count=_num(per_day), floor=_num(floor), share=f"{limits.min_visits_per_capacity:g}",
                            capacity=capacity)
        return Fired("min_visits_per_capacity", per_day, floor, "<"), text
    return None


def _active_reason(figures: Figures, capacity: int, limits: Thresholds) -> str:
    if figures.occupancy_rate is not None:
        return _("mean occupancy {rate} of capacity (≥ {limit})").format(
            rate=_pct(figures.occupancy_rate, limits.min_occupancy_rate), limit=_pct(limits.min_occupancy_rate))
    floor = limits.min_visits_per_capacity * capacity
    if figures.visits_per_open_day is not None:
        return _("{count} visits per open day (≥ {floor})").format(count=_num(figures.visits_per_open_day),
                                                                   floor=_num(floor))
    if figures.uses_per_open_day is not None:
        return _("{count} uses per open day (≥ {floor})").format(count=_num(figures.uses_per_open_day),
                                                                 floor=_num(floor))
    return _("in use; no occupancy or visit counts to compare with capacity")


def classify(figures: Figures, capacity: int, limits: Thresholds, closure_reasons: tuple[str, ...] = ()) -> Verdict:
    """The status for a facility's figures; EXEMPT and NO_DATA stop there, since usage figures then mislead."""
    total = figures.open_hours + figures.closed_hours
    if total == 0:
        return Verdict(Status.EXEMPT, (), (_("no opening hours in the window"),))
    share = figures.closed_share or 0.0
    if share > limits.exempt_closed_share + EPSILON:
        why = _(": {reasons}").format(reasons=_(", ").join(closure_reasons)) if closure_reasons else ""
        text = _("closed on purpose for {closed} of {total} opening hours ({share} > {limit}){why}").format(
            closed=_hours(figures.closed_hours), total=_hours(total), share=_pct(share, limits.exempt_closed_share),
            limit=_pct(limits.exempt_closed_share), why=why)
        return Verdict(Status.EXEMPT, (Fired("exempt_closed_share", share, limits.exempt_closed_share, ">"),), (text,))
    coverage = figures.coverage or 0.0
    if coverage < limits.min_coverage - EPSILON:
        text = _("sensor data in {coverage} of opening hours ({covered} of {open}; < {limit}): a sensor problem, "
                 "not idleness").format(coverage=_pct(coverage, limits.min_coverage),
                                        covered=_hours(figures.covered_hours), open=_hours(figures.open_hours),
                                        limit=_pct(limits.min_coverage))
        return Verdict(Status.NO_DATA, (Fired("min_coverage", coverage, limits.min_coverage, "<"),), (text,))
    fired: list[Fired] = []
    reasons: list[str] = []
    statuses: list[Status] = []
    idle = figures.idle_day_share
    if idle is not None and idle >= limits.idle_day_share - EPSILON:
        idle_text = (_("no use on {idle} of {days} open days ({share} ≥ {limit})")
                     if figures.observed_days == figures.open_days
                     else _("no use on {idle} of {days} open days with data ({share} ≥ {limit})"))
        reasons.append(idle_text.format(idle=figures.idle_days, days=figures.observed_days,
                                        share=_pct(idle, limits.idle_day_share), limit=_pct(limits.idle_day_share)))
        fired.append(Fired("idle_day_share", idle, limits.idle_day_share, ">="))
        statuses.append(Status.IDLE)
    underuse = _underuse(figures, capacity, limits)
    if underuse is not None:
        fired.append(underuse[0])
        reasons.append(underuse[1])
        statuses.append(Status.UNDERUSED)
    if not statuses:
        return Verdict(Status.ACTIVE, (), (_active_reason(figures, capacity, limits),))
    return Verdict(statuses[0], tuple(fired), tuple(reasons))
