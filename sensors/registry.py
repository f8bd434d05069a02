"""The facility registry: which public facilities facmon watches, with their hours and closures.

People edit the registry by hand, so loading reports every problem at once, one per line, naming the facility
and the field, and a misspelt key is an error rather than a setting silently ignored.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from facmon.core import config, yamlload
from facmon.core.config import ConfigFileError, Loc, StrictModel, show
from sensors import registry_cache
from sensors.contract import ID_PATTERN, RESERVED_FACILITY_IDS, is_valid_id
from sensors.facility_types import LANGUAGES, display_type
from sensors.regions import check_region, is_within

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_TEXT = 200
#: Facilities per registry: far above a province, low enough that a hostile file fails with this line instead
#: of exhausting memory (the file's bytes and YAML nodes are limited before this: facmon.core.yamlload.REGISTRY).
MAX_FACILITIES = 200_000
_DAY = 24 * 60
_MIDNIGHT = time(0, 0)
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_RANGE_RE = re.compile(r"(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BAD_TEXT = frozenset({"Cc", "Cs", "Zl", "Zp"})  # control characters, surrogates, line/paragraph breaks
_QUOTE_HINT = 'write times as quoted strings like "09:00-12:00"'
#: On a statutory holiday (China's calendar: analytics.analysis.calendar) a facility is ``closed``, opens with its
#: ``weekend_hours`` (Sunday's, or Saturday's when it has none on Sunday), or keeps its weekday's hours (``as_usual``).
HolidayPolicy = Literal["as_usual", "closed", "weekend_hours"]
#: On an adjusted working day (调休: a Saturday or Sunday made a working day) a facility opens with a working
#: weekday's hours (``weekday_hours``: the hours most of Monday to Friday have) or keeps that day's own hours.
WorkdayPolicy = Literal["as_usual", "weekday_hours"]


class RegistryError(ConfigFileError):
    """The registry is unusable; ``str()`` gives one problem per line, each prefixed with the source."""


def _check_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters (got {len(text)})")
    bad = next((c for c in text if unicodedata.category(c) in _BAD_TEXT), None)
    if bad is not None:
        raise ValueError(f"must be a single line without control characters (found U+{ord(bad):04X})")
    return text


def _check_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"must match {ID_PATTERN}: lowercase letters, digits, - and _ (got {show(value)})")
    if value in RESERVED_FACILITY_IDS:
        raise ValueError(f"{value!r} is reserved and cannot name a facility")
    return value


def _matching(pattern: re.Pattern[str], hint: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {hint} (got {show(value)})")
        return value

    return AfterValidator(check)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {show(value)}; use an IANA name like Asia/Shanghai") from None
    return value


def _to_date(value: object) -> date:
    """YAML gives unquoted dates as ``date`` objects; quoted ones arrive as ISO text."""
    if isinstance(value, datetime):
        raise ValueError(f"must be a date like 2025-10-01 without a time (got {value})")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar date") from None
    raise ValueError(f"must be a date like 2025-10-01 (got {show(value)})")


Text = Annotated[StrictStr, AfterValidator(_check_text)]
Day = Annotated[date, BeforeValidator(_to_date)]


def _minute(t: time) -> int:
    return t.hour * 60 + t.minute


def _start(span: TimeRange) -> int:
    return _minute(span.start)


def _parse_range(text: str) -> dict[str, time]:
    start, end = _range_times(text)
    return {"start": start, "end": end}


@functools.lru_cache(maxsize=4096)
def _range_times(text: str) -> tuple[time, time]:
    """The start and end of "09:00-12:00"; a registry repeats a few dozen ranges thousands of times."""
    match = _RANGE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f'must look like "09:00-12:00", HH:MM-HH:MM on a 24-hour clock (got {show(text)})')
    sh, sm, eh, em = (int(part) for part in match.groups())
    if sh > 23 or sm > 59:
        raise ValueError(f"{text!r} starts at a time that does not exist")
    if eh > 24 or em > 59 or (eh == 24 and em):
        raise ValueError(f"{text!r} ends at a time that does not exist (24:00 is the latest)")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time; write 00:00-24:00 for the whole day")
    return time(sh, sm), time(eh % 24, em)


class TimeRange(StrictModel):
    """One opening period. ``end`` at or before ``start`` runs past midnight; ``end`` 00:00 is 24:00."""

    start: time = Field(strict=True)
    end: time = Field(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return _parse_range(value)
        if isinstance(value, Mapping | TimeRange):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"got the number {value}: YAML reads unquoted 10:30 as a number; {_QUOTE_HINT}")
        raise ValueError(f"must be a time range; {_QUOTE_HINT} (got {show(value)})")

    @model_validator(mode="after")
    def _whole_minutes(self) -> TimeRange:
        for t in (self.start, self.end):
            if t.second or t.microsecond or t.tzinfo is not None:
                raise ValueError("times must be whole minutes without a time zone")
        if self.start == self.end and self.start != _MIDNIGHT:
            raise ValueError("start equals end; only 00:00-24:00 (the whole day) may do that")
        return self

    @property
    def crosses_midnight(self) -> bool:
        """True when the period spills into the next day (22:00-02:00); one ending at 24:00 does not."""
        return self.end != _MIDNIGHT and self.end < self.start

    @property
    def minutes(self) -> int:
        """Length of the period; 00:00-24:00 is 1440."""
        return (_minute(self.end) - _minute(self.start)) % _DAY or _DAY

    def __str__(self) -> str:
        end = "24:00" if self.end == _MIDNIGHT else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"

    @model_serializer
    def _as_text(self) -> str:
        """Written as the registry writes it ("09:00-12:00"), which reads back as this period."""
        return str(self)


def _overlaps(hours: Mapping[str, tuple[TimeRange, ...]]) -> list[str]:
    """Overlapping periods would count an hour twice; a period past midnight also meets the next day."""
    week = 7 * _DAY
    spans: list[tuple[int, int, int, str, TimeRange]] = []
    for index, day in enumerate(DAYS):
        for span in hours.get(day, ()):
            start = index * _DAY + _minute(span.start)
            spans.append((start, start + span.minutes, len(spans), day, span))
    # Sorted by start, a period overlapping any later one overlaps the next; the last may reach into next week.
    ordered = sorted(spans)
    if all(a[1] <= b[0] for a, b in itertools.pairwise(ordered)) and (
            len(ordered) < 2 or ordered[-1][1] <= ordered[0][0] + week):
        return []
    problems = []
    for i, (s1, e1, _, day1, span1) in enumerate(spans):
        for s2, e2, _, day2, span2 in spans[i + 1 :]:
            if any(s1 < e2 + shift and s2 + shift < e1 for shift in (-week, 0, week)):
                problems.append(f"{day1} {span1} overlaps {day2} {span2}")
    return problems


class Closure(StrictModel):
    """Dates a facility is closed on purpose, so idle time then is not counted as underuse."""

    model_config = ConfigDict(populate_by_name=True)

    start: Day = Field(alias="from")
    end: Day = Field(alias="to")
    reason: Text

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"{end} is before from ({start})")
        return end


class Location(StrictModel):
    """Where the facility is, for maps; WGS84 degrees."""

    lat: float = Field(ge=-90, le=90, strict=True, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, strict=True, allow_inf_nan=False)


class Facility(StrictModel):
    """One monitored facility. Hashes by id, so it can sit in sets and dict keys."""

    id: Annotated[StrictStr, AfterValidator(_check_id)]
    name: Text
    type: Annotated[StrictStr, _matching(_TYPE_RE, "one lowercase word such as library or sports_hall")]
    region: Annotated[StrictStr, AfterValidator(check_region)]
    capacity: StrictInt = Field(gt=0)
    timezone: Annotated[StrictStr, AfterValidator(_check_timezone)] = DEFAULT_TIMEZONE
    opening_hours: dict[str, tuple[TimeRange, ...]]
    closures: tuple[Closure, ...] = ()
    location: Location | None = None
    department: Text | None = None
    holidays: HolidayPolicy = "as_usual"
    adjusted_workdays: WorkdayPolicy = "as_usual"
    simulation: dict[str, Any] | None = None

    @field_validator("opening_hours", mode="before")
    @classmethod
    def _known_days(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            raise ValueError(f"must map days (mon..sun) to lists of time ranges (got {show(value)})")
        unknown = [key for key in value if key not in DAYS]
        if unknown:
            names = ", ".join(show(key) for key in unknown)
            raise ValueError(f"unknown day {names}; use {', '.join(DAYS)}")
        for day, spans in value.items():
            if isinstance(spans, str | int):
                raise ValueError(f"{day} must be a list (got {show(spans)}); {_QUOTE_HINT} in [ ]")
        return {day: () if value[day] is None else value[day] for day in DAYS if day in value}

    @field_validator("opening_hours")
    @classmethod
    def _no_overlaps(cls, hours: dict[str, tuple[TimeRange, ...]]) -> dict[str, tuple[TimeRange, ...]]:
        tidy = {day: tuple(sorted(hours[day], key=_start)) for day in DAYS if hours.get(day)}
        problems = _overlaps(tidy)
        if problems:
            raise ValueError("; ".join(problems))
        return tidy

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hours_on(self, weekday: int) -> tuple[TimeRange, ...]:
        """Periods starting on ``weekday`` (0 = Monday); one past midnight also covers early next day."""
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
        return self.opening_hours.get(DAYS[weekday], ())

    def is_closure_day(self, day: date) -> Closure | None:
        return next((c for c in self.closures if c.start <= day <= c.end), None)

    @property
    def weekly_open_minutes(self) -> int:
        return sum(span.minutes for spans in self.opening_hours.values() for span in spans)

    def region_matches(self, prefix: str) -> bool:
        """Whole-segment prefix match (NFC, as the registry stores regions); an empty prefix matches every region."""
        return is_within(self.region, prefix)


def _duplicates(ids: Iterable[tuple[int, object]]) -> list[str]:
    first: dict[object, int] = {}
    problems = []
    for index, fid in ids:
        if isinstance(fid, str) and first.setdefault(fid, index) != index:
            problems.append(f"facilities[{index}] ({fid}) id: duplicate of facilities[{first[fid]}]")
    return problems


def _check_type_names(value: object) -> object:
    if not isinstance(value, Mapping):
        return value  # pydantic says what it should be
    problems = []
    for code, names in value.items():
        if not isinstance(code, str) or not _TYPE_RE.fullmatch(code):
            problems.append(f"{show(code)} is not a type code (one lowercase word such as library)")
        elif isinstance(names, Mapping) and not names:
            problems.append(f"{code}: give a name in {' or '.join(LANGUAGES)}")
    if problems:
        raise ValueError("; ".join(problems))
    return value


class TypeNames(StrictModel):
    """What people call a facility type, per language (sensors.facility_types)."""

    model_config = ConfigDict(populate_by_name=True)

    zh_CN: Text | None = None  # noqa: N815  # the language's code, as gettext and the --lang option spell it
    en: Text | None = None


class Registry(StrictModel):
    """All facilities, and the display names of their types; iterate it, or look one up by id."""

    model_config = ConfigDict(populate_by_name=True)

    facilities: tuple[Facility, ...]
    type_names: Annotated[dict[str, TypeNames], BeforeValidator(_check_type_names)] = Field(
        default_factory=dict, alias="types")
    _by_id: dict[str, Facility] = PrivateAttr(default_factory=dict)

    @field_validator("facilities", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if isinstance(value, list | tuple) and not value:  # min_length would also count the invalid ones
            raise ValueError("must list at least one facility")
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._by_id = {f.id: f for f in self.facilities}

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        problems = _duplicates(enumerate(f.id for f in self.facilities))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def by_id(self) -> Mapping[str, Facility]:
        """Read-only id -> Facility view of a dict built once (a plain dict inside, so pickling works)."""
        return MappingProxyType(self._by_id)

    def get(self, facility_id: str) -> Facility | None:
        return self._by_id.get(facility_id)

    def __len__(self) -> int:
        return len(self.facilities)

    def __iter__(self) -> Iterator[Facility]:  # type: ignore[override]  # facilities, not pydantic fields
        return iter(self.facilities)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Facility):
            return self._by_id.get(item.id) == item
        return isinstance(item, str) and item in self._by_id

    def types(self) -> tuple[str, ...]:
        return tuple(sorted({f.type for f in self.facilities}))

    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({f.region for f in self.facilities}))

    def display_type(self, code: str, language: str) -> str:
        """``code``'s name in ``language``: this registry's ``types:`` first, then the built-in names."""
        names = {c: n.model_dump(exclude_none=True) for c, n in self.type_names.items()}
        return display_type(code, language, names)


def _keys_at(loc: Loc) -> list[str]:
    """The keys allowed where an unknown key was found, to suggest the one probably meant."""
    by_depth: dict[int, type[BaseModel]] = {1: Registry, 3: Facility}
    if len(loc) == 3 and loc[0] == "types":
        return list(LANGUAGES)
    model = by_depth.get(len(loc))
    if len(loc) in (4, 5) and loc[0] == "facilities":
        nested: dict[tuple[int, int | str], type[BaseModel]] = {(4, "location"): Location, (5, "closures"): Closure}
        model = nested.get((len(loc), loc[2]))
    return [info.alias or name for name, info in model.model_fields.items()] if model else []


def explain(error: ValidationError) -> list[tuple[Loc, str]]:
    """Reword pydantic's errors on registry data (facmon.core.config.explain), suggesting registry keys."""
    return config.explain(error, _keys_at)


def _where(data: object, loc: Loc) -> tuple[str, Loc]:
    """A facility's entry by its index and id, and the rest of the location."""
    if len(loc) >= 2 and loc[0] == "facilities" and isinstance(loc[1], int):
        return _label(data, loc[1]), loc[2:]
    return "", loc


def _label(data: object, index: int) -> str:
    """``facilities[2] (wz-lc-lib-001)``, taking the id from the raw data even when it is invalid."""
    try:
        fid = data["facilities"][index]["id"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return f"facilities[{index}]"
    return f"facilities[{index}] " + (f"({fid})" if is_valid_id(fid) else f"(id {show(fid, 40)})")


def parse_registry(data: object, source: str = "<registry>") -> Registry:
    """Validate what ``yaml.safe_load`` returned; pure, so callers and tests need no files."""
    if data is None:
        raise RegistryError("the registry is empty; it needs a 'facilities:' list", source)
    if not isinstance(data, Mapping):
        raise RegistryError(
            f"the top level must be a mapping with a 'facilities:' list (got {type(data).__name__})", source
        )
    raw = data.get("facilities")
    if isinstance(raw, list) and len(raw) > MAX_FACILITIES:
        raise RegistryError(f"{len(raw):,} facilities, over the limit of {MAX_FACILITIES:,} per registry (split it "
                            "by region and run a facmon per part)", source)
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        problems = config.problems(exc, lambda loc: _where(data, loc), _keys_at)
        if not any("id: duplicate of" in p for p in problems):
            raw = data.get("facilities")
            if isinstance(raw, list):
                problems += _duplicates((i, f.get("id")) for i, f in enumerate(raw) if isinstance(f, Mapping))
        raise RegistryError(problems, source) from None


def read_yaml(text: str, source: str, limits: yamlload.Limits = yamlload.CONFIG) -> object:
    """Parse YAML text within the limits (facmon.core.yamlload), turning its one-line errors into a RegistryError."""
    try:
        return yamlload.load(text, limits)
    except yamlload.YamlError as exc:
        raise RegistryError(str(exc), source) from None


def _read_bytes(source: str, limits: yamlload.Limits) -> bytes:
    try:
        return yamlload.read_bytes(source, limits)
    except yamlload.YamlError as exc:
        raise RegistryError(str(exc), source) from None
    except OSError as exc:
        raise RegistryError(f"cannot read the file: {exc.strerror or exc}", source) from None


def read_yaml_file(path: str | os.PathLike[str], limits: yamlload.Limits = yamlload.CONFIG) -> object:
    """Read and parse a YAML file within the limits; every failure is one RegistryError line naming the file."""
    source = os.fspath(path)
    try:
        text = _read_bytes(source, limits).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"is not UTF-8 text (bad byte at offset {exc.start})", source) from None
    return read_yaml(text, source, limits)


def load_registry(path: str | os.PathLike[str], cache: Path | None = None) -> Registry:
    """Read and validate a registry file; every problem is reported, each line starting with the path.

    With ``cache`` (a directory), a large registry read before with the same bytes is taken from there instead of
    its YAML (sensors.registry_cache), and one read from YAML is kept there.
    """
    source = os.fspath(path)
    if cache is None:
        return parse_registry(read_yaml_file(path, yamlload.REGISTRY), source)
    data = _read_bytes(source, yamlload.REGISTRY)
    name = registry_cache.key(data) if len(data) >= registry_cache.MIN_BYTES else None
    kept = registry_cache.read(cache, name) if name else None
    if kept is not None:
        try:
            return Registry.model_validate_json(kept)
        except ValidationError:
            log.warning("registry cache entry %s/%s is damaged; reading %s", cache, name, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"is not UTF-8 text (bad byte at offset {exc.start})", source) from None
    registry = parse_registry(read_yaml(text, source, yamlload.REGISTRY), source)
    if name:
        meaning = registry.model_dump_json(by_alias=True).encode()
        if Registry.model_validate_json(meaning) == registry:  # what the cache gives back is this registry
            registry_cache.write(cache, name, meaning)
        else:
            log.warning("%s: not kept in the registry cache (it does not read back the same)", source)
    return registry
