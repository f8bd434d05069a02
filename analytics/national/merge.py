"""The national view: province deployments' status exports (analytics.national.export) merged into counts per
deployment, region and type, and the list of flagged facilities with the deployment each belongs to. Pure: the
files' bytes come in, a view or every problem at once goes out.

A facility id is unique only within its deployment (each province keeps its own registry), so the national view
keys facilities by (deployment, facility id). The same id in two deployments is still refused unless the operator
says they are two facilities (`allow_shared_ids`): a facility counted by two provinces, or a registry copied from
another, would otherwise count twice in the national figures.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import orjson

from analytics.analysis.model import DISPLAY_ORDER, PRECEDENCE, Status
from analytics.national.export import ExportedFacility, ExportWindow, StatusExport, parse_export
from facmon.core.errors import ConfigError
from facmon.core.i18n import _, ngettext

#: Ids named in one problem at most; the count says how many there are.
SHOWN_IDS = 10


class MergeError(ConfigError):
    """The exports cannot be merged; every problem, one a line, each naming its file (and key path)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(ngettext("cannot merge the exports ({count} problem):",
                                  "cannot merge the exports ({count} problems):", len(self.problems)).format(
                                      count=len(self.problems))
                         + "".join(f"\n  {problem}" for problem in self.problems))


@dataclass(frozen=True, slots=True)
class Source:
    """One export as the operator named it: its bytes, or why it could not be read."""

    name: str
    data: bytes | None
    error: str = ""


@dataclass(slots=True)
class Tally:
    """Facilities per status, and how many have integrity findings."""

    facilities: int = 0
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(PRECEDENCE, 0))
    suspect: int = 0

    def add(self, facility: ExportedFacility) -> None:
        self.facilities += 1
        self.counts[facility.status] += 1
        self.suspect += facility.suspect

    def merge(self, other: Tally) -> None:
        self.facilities += other.facilities
        self.suspect += other.suspect
        for status, n in other.counts.items():
            self.counts[status] += n


@dataclass(frozen=True, slots=True)
class Deployment:
    """One province's export: who sent it, from which file (and its SHA-256), what it holds."""

    name: str
    source: str
    sha256: str
    facmon_version: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class Flagged:
    """A facility someone has to look at (flagged status or integrity findings), keyed by (deployment, id); kept
    as its line of the view's JSON (the deployment, then the export's keys), a few hundred bytes, so that a
    country's worth stays small."""

    deployment: str
    facility_id: str
    status: Status
    line: bytes

    def sort_key(self) -> tuple[int, str, str]:
        return DISPLAY_ORDER.index(self.status), self.deployment, self.facility_id

    def facility(self) -> ExportedFacility:
        """The facility as the export has it (for the table)."""
        data = orjson.loads(self.line)
        del data["deployment"]
        return ExportedFacility.model_validate(data)


@dataclass(frozen=True, slots=True)
class NationalView:
    as_of: date
    window: ExportWindow
    region_depth: int
    deployments: tuple[Deployment, ...]
    total: Tally
    by_region: dict[str, Tally]
    by_type: dict[str, Tally]
    flagged: tuple[Flagged, ...]


def region_prefix(region: str, depth: int) -> str:
    """The first `depth` levels of a region path: `zhejiang/lishui` of `zhejiang/lishui/jinyun/dongdu` at 2."""
    return "/".join(region.split("/")[:depth])


def _files(names: Iterable[str]) -> str:
    return ", ".join(names)


def _differing(what: str, seen: dict[object, list[str]]) -> list[str]:
    """One problem naming every file and its value, when the exports disagree on `what`."""
    if len(seen) < 2:
        return []
    values = "; ".join(f"{value} ({_files(names)})" for value, names in sorted(seen.items(), key=str))
    return [_("the exports differ in {what}: {values}; every deployment exports the same --as-of and "
              "--window with the same facmon schema").format(what=what, values=values)]


class _Merger:
    """Reads the exports one at a time, keeping only what the view needs (tallies, flagged facilities, ids)."""

    def __init__(self, region_depth: int, allow_shared_ids: bool) -> None:
        self.region_depth = region_depth
        self.allow_shared_ids = allow_shared_ids
        self.problems: list[str] = []
        self.versions: dict[object, list[str]] = defaultdict(list)
        self.as_of: dict[object, list[str]] = defaultdict(list)
        self.days: dict[object, list[str]] = defaultdict(list)
        self.deployments: dict[str, list[Deployment]] = defaultdict(list)
        self.owner: dict[str, str] = {}  # facility id -> the first deployment that has it
        self.shared: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.total = Tally()
        self.by_region: dict[str, Tally] = defaultdict(Tally)
        self.by_type: dict[str, Tally] = defaultdict(Tally)
        self.flagged: list[Flagged] = []
        self.window: ExportWindow | None = None

    def add(self, source: Source) -> None:
        if source.data is None:
            self.problems.append(_("{file}: cannot read: {error}").format(file=source.name, error=source.error))
            return
        parsed = parse_export(source.data)
        if isinstance(parsed.schema_version, int) and not isinstance(parsed.schema_version, bool):
            self.versions[parsed.schema_version].append(source.name)
        self.problems.extend(f"{source.name}: {problem}" for problem in parsed.problems)
        if parsed.export is not None:
            self._take(source, parsed.export, parsed.raw_facilities)

    def _take(self, source: Source, export: StatusExport, raw: Sequence[dict[str, object]]) -> None:
        self.as_of[export.as_of].append(source.name)
        self.days[export.window.days].append(source.name)
        self.window = self.window or export.window
        tally = Tally()
        name = export.deployment
        for facility, as_written in zip(export.facilities, raw, strict=True):
            tally.add(facility)
            self.by_region[region_prefix(facility.region, self.region_depth)].add(facility)
            self.by_type[facility.type].add(facility)
            if facility.flagged:
                # copied: orjson's bytes keep the 4 KiB it writes into, ten times a line's size
                line = memoryview(orjson.dumps({"deployment": name, **as_written})).tobytes()
                self.flagged.append(Flagged(name, facility.facility_id, facility.status, line))
            owner = self.owner.setdefault(facility.facility_id, name)
            if owner != name:
                self.shared[(owner, name)].append(facility.facility_id)
        self.total.merge(tally)
        digest = hashlib.sha256(source.data or b"").hexdigest()
        self.deployments[name].append(Deployment(name, source.name, digest, export.facmon_version, tally))

    def _conflicts(self) -> list[str]:
        found = _differing("schema_version", self.versions)
        found += _differing("as_of", self.as_of)
        found += _differing(_("window days"), self.days)
        for name, sent in sorted(self.deployments.items()):
            if len(sent) > 1:
                found.append(_("deployment {name} sent {count} exports ({files}): one export per deployment and "
                               "day").format(name=name, count=len(sent), files=_files(d.source for d in sent)))
        if not self.allow_shared_ids:
            for (first, second), ids in sorted(self.shared.items()):
                found.append(_(
                    "{count} facility ids are in both deployment {first} ({first_file}) and {second} "
                    "({second_file}): {ids}; ids are unique only within a deployment and the national view keys "
                    "facilities by (deployment, id): if these are the same facilities, remove them from one "
                    "registry; if they are different facilities, merge with --allow-shared-ids").format(
                    count=len(ids), first=first, second=second, ids=", ".join(sorted(ids)[:SHOWN_IDS])
                    + (", …" if len(ids) > SHOWN_IDS else ""),
                    first_file=self.deployments[first][0].source, second_file=self.deployments[second][0].source))
        return found

    def view(self) -> NationalView:
        problems = self.problems + self._conflicts()
        if not self.deployments and not problems:
            problems.append(_("no exports to merge"))
        if problems:
            raise MergeError(problems)
        assert self.window is not None
        deployments = tuple(sent[0] for _name, sent in sorted(self.deployments.items()))
        (as_of,) = self.as_of
        assert isinstance(as_of, date)
        return NationalView(
            as_of=as_of, window=self.window, region_depth=self.region_depth, deployments=deployments,
            total=self.total, by_region=dict(sorted(self.by_region.items())),
            by_type=dict(sorted(self.by_type.items())),
            flagged=tuple(sorted(self.flagged, key=Flagged.sort_key)),
        )


def merge(sources: Iterable[Source], region_depth: int = 2, allow_shared_ids: bool = False) -> NationalView:
    """The national view of `sources` (read one at a time, so a generator keeps one file in memory), or a
    MergeError naming every problem: files that cannot be read or are not valid exports (file and key path of
    each), exports of other as-of dates, windows or schema versions, a deployment twice, a facility id in two
    deployments (unless `allow_shared_ids`). Nothing is merged while anything is wrong."""
    merger = _Merger(region_depth, allow_shared_ids)
    for source in sources:
        merger.add(source)
    return merger.view()
