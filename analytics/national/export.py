"""The status export a province deployment sends upward (`facmon analyze --export FILE`), written and read here
only; docs/scaling.md describes it.

Every facility's status and integrity findings as codes and numbers — the thresholds that fired with their values
(`fired`, as in analyze's JSON), the detectors that fired with their evidence — and the deployment's name, the run's
as-of date and window, the facmon version and the export's schema version. No readings, no sentences: a reason's
words depend on the province's language, its numbers do not, and a finding's evidence (the readings) stays in the
province. Deterministic: facilities sorted by id, numbers rounded as analyze's JSON rounds them, no time of its own,
so the same run gives the same bytes in any language and a province can hash or sign the file as it is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from analytics.analysis.model import PRECEDENCE, AnalysisRun, FacilityResult, Status
from analytics.analysis.output import fired_dict, rounded
from facmon.core.config import Labeler, Loc, StrictModel, problems, show
from sensors.contract import ID_PATTERN, is_valid_id
from sensors.regions import check_region
from sensors.registry import MAX_TEXT, Day

KIND = "facmon-status"
#: Changes when a key is added, removed or changes meaning; the national merge reads one version at a time.
SCHEMA_VERSION = 1
#: Problems named per file at most; a file wrong throughout is one problem repeated, and the count says so.
MAX_PROBLEMS = 20


# -- writing ---------------------------------------------------------------------------------------------------
def facility_dict(result: FacilityResult) -> dict[str, Any]:
    """One facility of the export: who it is, its status with the thresholds that fired, its integrity findings."""
    return {
        "facility_id": result.facility_id,
        "name": result.name,
        "type": result.type,
        "region": result.region,
        "status": result.status.value,
        "fired": [fired_dict(f) for f in result.fired],
        "findings": [{"detector": f.detector.value, "evidence": {key: rounded(f.evidence[key])
                                                                 for key in sorted(f.evidence)}}
                     for f in result.integrity.findings],
    }


def header_dict(run: AnalysisRun, deployment: str, version: str) -> dict[str, Any]:
    """Everything but the facilities: which deployment, which day and window, which facmon, how many of each."""
    return {
        "export": KIND,
        "schema_version": SCHEMA_VERSION,
        "deployment": deployment,
        "facmon_version": version,
        "as_of": run.as_of.isoformat(),
        "window": {"first_day": (run.as_of - timedelta(days=run.window_days)).isoformat(),
                   "last_day": (run.as_of - timedelta(days=1)).isoformat(), "days": run.window_days},
        "counts": run.counts(),
        "suspect": sum(1 for r in run.facilities if r.integrity.suspect),
    }


def render_export(run: AnalysisRun, deployment: str, version: str) -> bytes:
    """The export as UTF-8 JSON, one facility a line (diffs and grep read it line by line), sorted by id."""
    out = bytearray(orjson.dumps(header_dict(run, deployment, version))[:-1] + b',"facilities":[')
    for n, result in enumerate(sorted(run.facilities, key=lambda r: r.facility_id)):
        out += b",\n" if n else b"\n"
        out += orjson.dumps(facility_dict(result))  # appended at once: orjson's bytes hold 4 KiB each
    out += b"\n]}\n" if run.facilities else b"]}\n"
    return bytes(out)


# -- reading ---------------------------------------------------------------------------------------------------
#: A region is checked as the registry checks it; a province's facilities share a few thousand regions.
_region = lru_cache(maxsize=1 << 16)(check_region)
#: What a name must not hold, as the registry's text check says it (control characters, line and paragraph
#: breaks; JSON decoding already refuses lone surrogates), as one regular expression: names are all different.
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _name(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TEXT or _BAD_NAME.search(text):
        raise ValueError(f"must be a single line of 1 to {MAX_TEXT} characters without control characters "
                         f"(got {show(value)})")
    return text


def _facility_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"must match {ID_PATTERN} (got {show(value)})")
    return value


FacilityId = Annotated[StrictStr, AfterValidator(_facility_id)]
Code = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Number = StrictInt | StrictFloat


class ExportedFired(StrictModel):
    rule: Code
    value: Number
    threshold: Number
    comparison: Literal["<", "<=", ">", ">="]


class ExportedFinding(StrictModel):
    detector: Code  # a code, not facmon's list: a newer province may run a detector this facmon lacks
    evidence: dict[StrictStr, Number | StrictBool | StrictStr | None]  # None: a NaN, as orjson writes it


class ExportedFacility(StrictModel):
    facility_id: FacilityId
    name: Annotated[StrictStr, AfterValidator(_name)]
    type: Code
    region: Annotated[StrictStr, AfterValidator(_region)]
    status: Status
    fired: tuple[ExportedFired, ...]
    findings: tuple[ExportedFinding, ...]

    @property
    def suspect(self) -> bool:
        return bool(self.findings)

    @property
    def flagged(self) -> bool:
        """In the national list: a status someone has to act on, or data that look forged or broken."""
        return self.status.flagged or self.suspect


class ExportWindow(StrictModel):
    first_day: Day
    last_day: Day
    days: StrictInt = Field(ge=1, le=366)


class StatusExport(StrictModel):
    export: Literal["facmon-status"]
    schema_version: Literal[1]
    deployment: FacilityId
    facmon_version: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    as_of: Day
    window: ExportWindow
    counts: dict[Status, StrictInt]
    suspect: StrictInt = Field(ge=0)
    facilities: tuple[ExportedFacility, ...]

    @model_validator(mode="after")
    def _consistent(self) -> StatusExport:
        """The header agrees with the facilities, so a cut or edited file is told from a small province."""
        problems = []
        window = self.window
        if window.last_day != self.as_of - timedelta(days=1) or \
                window.first_day != self.as_of - timedelta(days=window.days):
            problems.append(f"window: {window.first_day}..{window.last_day} is not the {window.days} days before "
                            f"as_of {self.as_of}")
        counted = status_counts(self.facilities)
        if self.counts != counted:
            problems.append(f"counts: the header says {_counts_text(self.counts)}, the facilities are "
                            f"{_counts_text(counted)}")
        suspect = sum(1 for f in self.facilities if f.suspect)
        if self.suspect != suspect:
            problems.append(f"suspect: the header says {self.suspect}, {suspect} facilities have findings")
        ids = Counter(f.facility_id for f in self.facilities)
        twice = sorted(fid for fid, n in ids.items() if n > 1)
        if twice:
            problems.append(f"facilities: {len(twice)} ids appear twice: {', '.join(twice[:10])}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def status_counts(facilities: tuple[ExportedFacility, ...]) -> dict[Status, int]:
    out = dict.fromkeys(PRECEDENCE, 0)
    for facility in facilities:
        out[facility.status] += 1
    return out


def _counts_text(counts: Mapping[Status, int]) -> str:
    return ", ".join(f"{n} {status.value}" for status, n in counts.items())


@dataclass(frozen=True, slots=True)
class Parsed:
    """One file read as an export: its schema version when it says one, the export when valid, else problems
    (each `path: what is wrong`, at most MAX_PROBLEMS and a count of the rest)."""

    schema_version: object = None
    export: StatusExport | None = None
    problems: tuple[str, ...] = ()
    #: The facilities as the file has them (valid when `export` is), in its order: the national view keeps the
    #: flagged ones as JSON without building them again.
    raw_facilities: tuple[dict[str, Any], ...] = ()


def parse_export(data: bytes) -> Parsed:
    """Read an export; a file that is not one, or one of another schema version, says so instead of failing on
    its first key."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return Parsed(problems=(f"not JSON: {exc}",))
    if not isinstance(raw, dict) or raw.get("export") != KIND:
        hint = ("this is `facmon analyze --format json` output; `facmon analyze --export FILE` writes the export"
                if isinstance(raw, dict) and "format" in raw and "facilities" in raw else
                "`facmon analyze --export FILE` writes one")
        return Parsed(problems=(f'not a facmon status export (no "export": "{KIND}"): {hint}',))
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        return Parsed(version, problems=(f"schema_version {show(version)}: this facmon reads schema_version "
                                         f"{SCHEMA_VERSION} only; merge with the facmon that wrote it",))
    try:
        return Parsed(version, StatusExport.model_validate(raw), raw_facilities=tuple(raw["facilities"]))
    except ValidationError as exc:
        found = problems(exc, _label(raw))
        more = [f"… and {len(found) - MAX_PROBLEMS} more problems"] if len(found) > MAX_PROBLEMS else []
        return Parsed(version, problems=(*found[:MAX_PROBLEMS], *more))


def _label(raw: dict[str, Any]) -> Labeler:
    """`facilities[3] (lib-01)` for a problem in a facility that has a readable id, as registry problems read."""
    facilities = raw.get("facilities")

    def label(loc: Loc) -> tuple[str, Loc]:
        if len(loc) >= 2 and loc[0] == "facilities" and isinstance(loc[1], int) and isinstance(facilities, list) \
                and loc[1] < len(facilities) and isinstance(facilities[loc[1]], dict) \
                and is_valid_id(fid := facilities[loc[1]].get("facility_id")):
            return f"facilities[{loc[1]}] ({fid})", loc[2:]
        return "", loc

    return label
