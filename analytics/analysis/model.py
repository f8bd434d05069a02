"""What an analysis run produces, shared by `facmon analyze`, its outputs, and the alerts and reports built on it.

Plain frozen dataclasses without I/O, so every consumer (JSON, CSV, InfluxDB, alert rules) reads the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from facmon.core.i18n import N_, _


class Status(StrEnum):
    """One status per facility; the order of PRECEDENCE decides when several rules fire."""

    EXEMPT = "EXEMPT"
    NO_DATA = "NO_DATA"
    IDLE = "IDLE"
    UNDERUSED = "UNDERUSED"
    ACTIVE = "ACTIVE"

    @property
    def flagged(self) -> bool:
        """Statuses someone has to act on: idle or underused rooms, or sensors that went quiet."""
        return self in (Status.IDLE, Status.UNDERUSED, Status.NO_DATA)

    @property
    def label(self) -> str:
        """The status as a person reads it in the current language: the code in English, 闲置 for IDLE in Chinese
        (docs/translations.md); the code in JSON, InfluxDB and the alerts' machine fields never changes."""
        return _(_STATUS_LABELS[self])


#: The codes marked for translation (the catalogs give each its words).
_STATUS_LABELS = {
    Status.EXEMPT: N_("EXEMPT"),
    Status.NO_DATA: N_("NO_DATA"),
    Status.IDLE: N_("IDLE"),
    Status.UNDERUSED: N_("UNDERUSED"),
    Status.ACTIVE: N_("ACTIVE"),
}

PRECEDENCE: tuple[Status, ...] = (Status.EXEMPT, Status.NO_DATA, Status.IDLE, Status.UNDERUSED, Status.ACTIVE)
#: Display order, flagged first: idle before underused before sensor problems, then the unremarkable.
DISPLAY_ORDER: tuple[Status, ...] = (Status.IDLE, Status.UNDERUSED, Status.NO_DATA, Status.EXEMPT, Status.ACTIVE)


@dataclass(frozen=True, slots=True)
class Window:
    """Whole local days ``first_day``..``last_day`` (inclusive) in the facility's own time zone."""

    first_day: date
    last_day: date
    timezone: str

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True, slots=True)
class Figures:
    """Usage over a window's opening hours; None where the data cannot say (no data, or a field never reported).

    Hours are counted in 15-minute slots (so they are multiples of 0.25). "Open days" are days with opening
    hours that are not closure days; per-day figures divide by the open days that have any sensor data.
    """

    open_hours: float = 0.0
    closed_hours: float = 0.0
    covered_hours: float = 0.0
    open_days: int = 0
    observed_days: int = 0
    idle_days: int = 0
    closed_share: float | None = None
    coverage: float | None = None
    occupancy_rate: float | None = None
    peak_rate: float | None = None
    visits_per_open_day: float | None = None
    uses_per_open_day: float | None = None
    idle_day_share: float | None = None
    reports_occupancy: bool = False
    reports_entries: bool = False
    reports_uses: bool = False


#: Figures whose change against the previous window is reported.
COMPARED: tuple[str, ...] = (
    "coverage",
    "occupancy_rate",
    "peak_rate",
    "visits_per_open_day",
    "uses_per_open_day",
    "idle_day_share",
)


@dataclass(frozen=True, slots=True)
class Fired:
    """A threshold that fired: ``value <comparison> threshold`` held for rule ``rule``."""

    rule: str
    value: float
    threshold: float
    comparison: str


class Detector(StrEnum):
    """The data-integrity checks (analytics.integrity.assess); each has its thresholds in the rules file."""

    FLAT_LINE = "flat_line"
    COPIED_DAYS = "copied_days"
    CLONE = "clone"
    IMPOSSIBLE_COUNTS = "impossible_counts"
    LATE_ARRIVAL = "late_arrival"
    TOO_REGULAR = "too_regular"
    NEAR_COPY = "near_copy"
    NO_MEMORY = "no_memory"
    SIMILAR_DAYS = "similar_days"
    DIGIT_PREFERENCE = "digit_preference"
    COUNTS_DRIFT = "counts_drift"
    REVISIONS = "revisions"


@dataclass(frozen=True, slots=True)
class Finding:
    """One integrity check that fired: a one-line reason with the numbers, and those numbers by name."""

    detector: Detector
    reason: str
    evidence: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Integrity:
    """A flag beside the status, never instead of it: "ACTIVE but DATA_SUSPECT" is what an auditor must see."""

    findings: tuple[Finding, ...] = ()

    @property
    def suspect(self) -> bool:
        return bool(self.findings)

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return tuple(finding.detector for finding in self.findings)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(finding.reason for finding in self.findings)


@dataclass(frozen=True, slots=True)
class FacilityResult:
    """A facility's status with its evidence: figures, fired thresholds, window, and readable reasons."""

    facility_id: str
    name: str
    type: str
    region: str
    department: str | None
    capacity: int
    status: Status
    figures: Figures
    window: Window
    reasons: tuple[str, ...] = ()
    fired: tuple[Fired, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)
    previous: Figures | None = None
    previous_window: Window | None = None
    change: dict[str, float | None] = field(default_factory=dict)
    type_percentile: float | None = None
    type_peers: int = 0
    integrity: Integrity = field(default_factory=Integrity)

    @property
    def coverage(self) -> float | None:
        return self.figures.coverage


@dataclass(frozen=True, slots=True)
class AnalysisRun:
    """One run: every selected facility's result for the ``window_days`` whole days before ``as_of``."""

    as_of: date
    window_days: int
    facilities: tuple[FacilityResult, ...]

    def counts(self) -> dict[str, int]:
        """Facilities per status, every status present (zero included) in precedence order."""
        out = {status.value: 0 for status in PRECEDENCE}
        for result in self.facilities:
            out[result.status.value] += 1
        return out
