"""The facility registry: good files load, and every kind of mistake is reported by facility and field."""

from __future__ import annotations

import copy
import pickle
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from sensors.registry import (
    Closure,
    Facility,
    Location,
    Registry,
    RegistryError,
    TimeRange,
    load_registry,
    parse_registry,
)

LIB = "facilities[0] (wz-lc-lib-001)"
REGION_HINT = "region: must be a region path like zhejiang/wenzhou/lucheng or 浙江省/丽水市/缙云县;"
TYPE_HINT = "type: must be one lowercase word such as library or sports_hall"
TZ_HINT = "use an IANA name like Asia/Shanghai"
QUOTE_HINT = 'YAML reads unquoted 10:30 as a number; write times as quoted strings like "09:00-12:00"'
ID_HINT = "id: must match [a-z0-9][a-z0-9_-]{0,62}: lowercase letters, digits, - and _"
CONTROL = "must be a single line without control characters"
DATA = Path(__file__).parent.parent / "data"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "registry.yaml"

BASE: dict[str, Any] = {
    "id": "wz-lc-lib-001",
    "name": "鹿城区图书馆五马分馆",
    "type": "library",
    "region": "zhejiang/wenzhou/lucheng",
    "capacity": 120,
    "opening_hours": {"tue": ["09:00-12:00", "14:00-20:00"], "wed": ["09:00-20:00"]},
}


BASE_YAML = """\
facilities:
  - id: wz-lc-lib-001
    name: 鹿城区图书馆五马分馆
    type: library
    region: zhejiang/wenzhou/lucheng
    capacity: 120
    opening_hours:
      tue: ["09:00-12:00"]
"""


def facility(**changes: Any) -> dict[str, Any]:
    """A valid facility mapping with some keys changed; a value of ... removes the key."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


def problems_of(*facilities: object, source: str = "<registry>") -> list[str]:
    """Parse a registry expected to be bad and return its problem lines."""
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": list(facilities)}, source)
    return list(caught.value.problems)


def only_problem(*facilities: object) -> str:
    problems = problems_of(*facilities)
    assert len(problems) == 1, problems
    return problems[0]


# --- good input ----------------------------------------------------------------------------------


def test_example_file_loads() -> None:
    registry = load_registry(EXAMPLE)
    assert [f.id for f in registry] == ["wz-lc-lib-001", "wz-lc-gym-002", "wz-oh-comm-003"]
    assert registry.get("wz-oh-comm-003").name == "瓯海区娄桥街道社区活动中心"
    assert registry.types() == ("community_center", "library", "sports_hall")
    assert registry.regions() == ("zhejiang/wenzhou/lucheng", "zhejiang/wenzhou/ouhai")


def test_good_fixture_values() -> None:
    registry = load_registry(DATA / "registry_good.yaml")
    lib = registry.get("wz-lc-lib-001")
    assert lib is not None
    assert lib.name == "鹿城区图书馆五马分馆"
    assert lib.timezone == "Asia/Shanghai"
    assert lib.zone == ZoneInfo("Asia/Shanghai")
    # ranges come back sorted; closed days ([] and an empty value) are dropped
    assert [str(r) for r in lib.hours_on(1)] == ["09:00-12:00", "14:00-20:00"]
    assert set(lib.opening_hours) == {"tue", "wed", "sun"}
    assert lib.hours_on(4) == ()
    assert lib.hours_on(5) == ()
    assert lib.closures == (
        Closure(start=date(2025, 10, 1), end=date(2025, 10, 7), reason="holiday"),
        Closure(start=date(2025, 12, 25), end=date(2025, 12, 25), reason="repairs"),
    )
    assert lib.location == Location(lat=28.0, lon=120.65)
    assert lib.department == "鹿城区文广旅体局"
    assert lib.simulation == {"profile": "busy", "noise": 0.1}
    # 3 + 6 + 11 + 8 hours
    assert lib.weekly_open_minutes == (3 + 6 + 11 + 8) * 60

    hall = registry.get("hz-xh-gym_2")
    assert hall is not None
    assert hall.name == "Xihu Stadium: Hall 2"
    assert hall.timezone == "Europe/Berlin"
    assert hall.closures == ()
    assert hall.location is None
    assert hall.department is None
    assert hall.simulation is None
    assert hall.weekly_open_minutes == 1440


def test_parse_registry_accepts_dates_as_objects_or_text_and_trims_names() -> None:
    closures = [
        {"from": date(2025, 10, 1), "to": "2025-10-07", "reason": " holiday "},
        {"from": "2026-01-01", "to": date(2026, 1, 1), "reason": "元旦"},
    ]
    registry = parse_registry({"facilities": [facility(closures=closures, name="  图书馆  ")]})
    lib = registry.facilities[0]
    assert lib.name == "图书馆"
    assert [(c.start, c.end, c.reason) for c in lib.closures] == [
        (date(2025, 10, 1), date(2025, 10, 7), "holiday"),
        (date(2026, 1, 1), date(2026, 1, 1), "元旦"),
    ]


def test_text_limits() -> None:
    assert parse_registry({"facilities": [facility(name="馆" * 200)]}).facilities[0].name == "馆" * 200
    assert "name: must be at most 200 characters (got 201)" in only_problem(facility(name="馆" * 201))


# --- time ranges ---------------------------------------------------------------------------------


def test_range_past_midnight() -> None:
    span = TimeRange.model_validate("18:00-02:00")
    assert span.start == time(18, 0)
    assert span.end == time(2, 0)
    assert span.crosses_midnight is True
    assert span.minutes == 480
    assert str(span) == "18:00-02:00"


@pytest.mark.parametrize(
    ("text", "minutes", "crosses", "shown"),
    [
        ("09:00-12:30", 210, False, "09:00-12:30"),
        ("00:00-24:00", 1440, False, "00:00-24:00"),
        ("18:00-24:00", 360, False, "18:00-24:00"),
        ("18:00-00:00", 360, False, "18:00-24:00"),
        ("23:59-00:01", 2, True, "23:59-00:01"),
        (" 08:00 - 09:00 ", 60, False, "08:00-09:00"),
    ],
)
def test_range_lengths(text: str, minutes: int, crosses: bool, shown: str) -> None:
    span = TimeRange.model_validate(text)
    assert (span.minutes, span.crosses_midnight, str(span)) == (minutes, crosses, shown)


def test_range_ending_at_24_equals_ending_at_00() -> None:
    assert TimeRange.model_validate("18:00-24:00") == TimeRange.model_validate("18:00-00:00")


def test_range_built_in_python_rejects_seconds_and_empty_periods() -> None:
    assert TimeRange(start=time(0), end=time(0)).minutes == 1440
    with pytest.raises(ValidationError, match="whole minutes"):
        TimeRange(start=time(9, 0, 30), end=time(10))
    with pytest.raises(ValidationError, match="start equals end"):
        TimeRange(start=time(9), end=time(9))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("25:00-26:00", "'25:00-26:00' starts at a time that does not exist"),
        ("09:60-10:00", "'09:60-10:00' starts at a time that does not exist"),
        ("09:00-24:30", "'09:00-24:30' ends at a time that does not exist"),
        ("09:00-25:00", "'09:00-25:00' ends at a time that does not exist"),
        ("9-12", "must look like \"09:00-12:00\", HH:MM-HH:MM on a 24-hour clock (got '9-12')"),
        ("9:00-12:00", 'must look like "09:00-12:00"'),
        ("09:00–12:00", 'must look like "09:00-12:00"'),
        ("09:00", 'must look like "09:00-12:00"'),
        ("10:00-10:00", "starts and ends at the same time; write 00:00-24:00 for the whole day"),
        ("00:00-00:00", "starts and ends at the same time"),
        (630, "got the number 630: YAML reads unquoted 10:30 as a number"),
        (None, 'write times as quoted strings like "09:00-12:00" (got None)'),
    ],
)
def test_bad_time_range(entry: object, expected: str) -> None:
    problem = only_problem(facility(opening_hours={"mon": ["06:00-08:00", entry]}))
    assert problem.startswith("facilities[0] (wz-lc-lib-001) opening_hours.mon[1]: ")
    assert expected in problem


def test_unquoted_time_from_real_yaml_names_the_quirk() -> None:
    text = BASE_YAML.replace('tue: ["09:00-12:00"]', "tue: [10:30, 14:00-20:00]")
    with pytest.raises(RegistryError) as caught:
        parse_registry(yaml.safe_load(text))
    assert caught.value.problems == (f"{LIB} opening_hours.tue[0]: got the number 630: {QUOTE_HINT}",)


def test_a_day_must_be_a_list() -> None:
    problem = only_problem(facility(opening_hours={"mon": "09:00-12:00"}))
    assert problem.startswith(f"{LIB} opening_hours: mon must be a list (got '09:00-12:00')")


@pytest.mark.parametrize("key", ["tues", "Mon", "monday", "1", 1, "周一"])
def test_unknown_weekday(key: object) -> None:
    problem = only_problem(facility(opening_hours={key: ["09:00-12:00"]}))
    assert problem == (f"{LIB} opening_hours: unknown day {key!r}; use mon, tue, wed, thu, fri, sat, sun")


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ({"mon": ["09:00-12:00", "11:00-14:00"]}, "mon 09:00-12:00 overlaps mon 11:00-14:00"),
        ({"mon": ["09:00-12:00", "09:00-12:00"]}, "mon 09:00-12:00 overlaps mon 09:00-12:00"),
        ({"mon": ["22:00-02:00", "23:00-23:30"]}, "mon 22:00-02:00 overlaps mon 23:00-23:30"),
        ({"mon": ["22:00-03:00"], "tue": ["02:00-09:00"]}, "mon 22:00-03:00 overlaps tue 02:00-09:00"),
        ({"mon": ["01:00-09:00"], "sun": ["20:00-02:00"]}, "mon 01:00-09:00 overlaps sun 20:00-02:00"),
    ],
)
def test_overlapping_ranges(hours: dict[str, list[str]], expected: str) -> None:
    assert only_problem(facility(opening_hours=hours)) == f"{LIB} opening_hours: {expected}"


def test_touching_ranges_are_fine() -> None:
    hours = {
        "mon": ["12:00-14:00", "09:00-12:00", "22:00-02:00"],
        "tue": ["02:00-04:00"],
        "sun": ["00:00-24:00"],
    }
    lib = parse_registry({"facilities": [facility(opening_hours=hours)]}).facilities[0]
    assert [str(r) for r in lib.hours_on(0)] == ["09:00-12:00", "12:00-14:00", "22:00-02:00"]
    assert lib.weekly_open_minutes == (3 + 2 + 4 + 2) * 60 + 1440


# --- one bad field at a time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    [
        "wz lib",
        "wz,lib",
        'wz"lib',
        "wz'lib",
        "wz\nlib",
        "wz-lib\n",
        "wz/lib",
        "wz#lib",
        "wz+lib",
        "图书馆",
        "WZ-lib",
        "-wz",
        "",
        "wz.lib",
        "wz\x00",
    ],
)
def test_bad_id(bad_id: str) -> None:
    problem = only_problem(facility(id=bad_id))
    assert problem == (f"facilities[0] (id {bad_id!r}) {ID_HINT} (got {bad_id!r})")
    assert "\n" not in problem  # a newline in the id must not split the report


def test_id_length() -> None:
    assert parse_registry({"facilities": [facility(id="a" * 63)]}).get("a" * 63) is not None
    problem = only_problem(facility(id="a" * 64))
    # long values are cut short so one line stays readable
    assert problem.startswith(f"facilities[0] (id '{'a' * 36}...) id: must match ")
    assert problem.endswith(f" (got '{'a' * 56}...)")


def test_id_that_is_not_text() -> None:
    expected = "facilities[0] (id 101) id: must be text (got 101); put it in quotes"
    assert only_problem(facility(id=101)) == expected


def test_reserved_id() -> None:
    assert only_problem(facility(id="alerts")) == (
        "facilities[0] (alerts) id: 'alerts' is reserved and cannot name a facility"
    )


def test_duplicate_ids_name_both_positions() -> None:
    problems = problems_of(facility(), facility(id="other"), facility(name="二号"))
    assert problems == ["facilities[2] (wz-lc-lib-001) id: duplicate of facilities[0]"]


def test_duplicate_ids_reported_with_other_problems() -> None:
    problems = problems_of(facility(), facility(capacity=0))
    assert problems == [
        "facilities[1] (wz-lc-lib-001) capacity: must be greater than 0 (got 0)",
        "facilities[1] (wz-lc-lib-001) id: duplicate of facilities[0]",
    ]


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (0, "must be greater than 0 (got 0)"),
        (-1, "must be greater than 0 (got -1)"),
        (1.5, "must be a whole number (got 1.5)"),
        (10.0, "must be a whole number (got 10.0)"),
        ("10", "must be a whole number (got '10')"),
        (True, "must be a whole number (got True)"),
        (None, "must be a whole number (got None)"),
    ],
)
def test_bad_capacity(capacity: object, expected: str) -> None:
    assert only_problem(facility(capacity=capacity)) == f"facilities[0] (wz-lc-lib-001) capacity: {expected}"


@pytest.mark.parametrize("zone", ["Mars/Phobos", "Asia", "", "../../etc/passwd", "/etc/localtime", "UTC+8"])
def test_bad_timezone(zone: str) -> None:
    assert only_problem(facility(timezone=zone)) == (f"{LIB} timezone: unknown time zone {zone!r}; {TZ_HINT}")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "", "name: must not be empty"),
        ("name", "   ", "name: must not be empty"),
        ("name", "图书馆\n二楼", f"name: {CONTROL} (found U+000A)"),
        ("name", "a\tb", f"name: {CONTROL} (found U+0009)"),
        ("name", "a\u2028b", f"name: {CONTROL} (found U+2028)"),
        ("name", 2025, "name: must be text (got 2025); put it in quotes"),
        ("department", "", "department: must not be empty"),
        ("department", "科\r室", f"department: {CONTROL} (found U+000D)"),
        ("type", "Library", f"{TYPE_HINT} (got 'Library')"),
        ("type", "sports-hall", f"{TYPE_HINT} (got 'sports-hall')"),
        ("type", "1lib", f"{TYPE_HINT} (got '1lib')"),
        ("region", "Zhejiang", f"{REGION_HINT} 'Zhejiang' has uppercase letters"),
        ("region", "zhejiang/", f"{REGION_HINT} 'zhejiang/' has an empty level ('//', or '/' at an end)"),
        ("region", "/zhejiang", f"{REGION_HINT} '/zhejiang' has an empty level ('//', or '/' at an end)"),
        ("region", "zhejiang//wenzhou",
         f"{REGION_HINT} 'zhejiang//wenzhou' has an empty level ('//', or '/' at an end)"),
        ("region", "浙江/../温州", f"{REGION_HINT} '浙江/../温州' contains U+002E FULL STOP (only letters, digits, '-' "
                                  "and '_' between the '/')"),
        ("region", "浙江\u202e/温州", f"{REGION_HINT} '浙江\\u202e/温州' contains U+202E RIGHT-TO-LEFT OVERRIDE (only "
                                     "letters, digits, '-' and '_' between the '/')"),
        ("region", "浙\u200b江", f"{REGION_HINT} '浙\\u200b江' contains U+200B ZERO WIDTH SPACE (only letters, digits, "
                                "'-' and '_' between the '/')"),
        ("region", "浙江/温州\n",
         f"{REGION_HINT} '浙江/温州\\u000a' contains U+000A (only letters, digits, '-' and '_' between the '/')"),
        ("region", " 浙江", f"{REGION_HINT} ' 浙江' contains U+0020 SPACE (only letters, digits, '-' and '_' between "
                             "the '/')"),
        ("region", "-浙江", f"{REGION_HINT} '-浙江' has a level starting with '-' or '_'"),
        ("region", "浙" * 64, f"{REGION_HINT} '{'浙' * 64}' has a level longer than 63 characters"),
        ("holidays", "closd", "holidays: must be 'as_usual', 'closed' or 'weekend_hours' (got 'closd')"),
        ("adjusted_workdays", "weekday", "adjusted_workdays: must be 'as_usual' or 'weekday_hours' (got 'weekday')"),
        ("opening_hours", ..., "opening_hours: is required"),
        ("capacity", ..., "capacity: is required"),
        ("capcity", 5, "capcity: unknown key; did you mean 'capacity'?"),
        ("lat", 28.0, "lat: unknown key"),
        ("location", {"lat": 91, "lon": 120}, "location.lat: must be less than or equal to 90 (got 91)"),
        (
            "location",
            {"lat": 0, "lon": -181},
            "location.lon: must be greater than or equal to -180 (got -181)",
        ),
        ("location", {"lat": 28}, "location.lon: is required"),
        ("location", {"lat": "28", "lon": 120}, "location.lat: must be a number (got '28')"),
        ("location", {"lat": float("nan"), "lon": 120}, "location.lat: must be a finite number (got nan)"),
        ("location", [28, 120], "location: must be a mapping of key: value"),
        ("simulation", "busy", "simulation: must be a mapping of key: value (got 'busy')"),
    ],
)
def test_bad_field(field: str, value: object, expected: str) -> None:
    assert only_problem(facility(**{field: value})) == f"facilities[0] (wz-lc-lib-001) {expected}"


@pytest.mark.parametrize(
    ("closure", "expected"),
    [
        (
            {"from": "2025-10-07", "to": "2025-10-01", "reason": "holiday"},
            "closures[0].to: 2025-10-01 is before from (2025-10-07)",
        ),
        ({"from": date(2025, 10, 1), "to": date(2025, 10, 7)}, "closures[0].reason: is required"),
        ({"from": "2025-10-01", "to": "2025-10-01", "reason": " "}, "closures[0].reason: must not be empty"),
        ({"from": "2025-02-30", "to": "2025-03-01", "reason": "x"}, "'2025-02-30' is not a calendar date"),
        (
            {"from": "2025/10/01", "to": "2025-10-02", "reason": "x"},
            "closures[0].from: must be a date like 2025-10-01 (got '2025/10/01')",
        ),
        ({"from": 20251001, "to": "2025-10-02", "reason": "x"}, "must be a date like 2025-10-01"),
        ({"from": datetime(2025, 10, 1, 8), "to": "2025-10-02", "reason": "x"}, "without a time"),
        (
            {"form": "2025-10-01", "from": "2025-10-01", "to": "2025-10-02", "reason": "x"},
            "closures[0].form: unknown key; did you mean 'from'?",
        ),
        ({"to": "2025-10-02", "reason": "x"}, "closures[0].from: is required"),
    ],
)
def test_bad_closure(closure: dict[str, object], expected: str) -> None:
    problem = only_problem(facility(closures=[closure]))
    assert problem.startswith("facilities[0] (wz-lc-lib-001) closures[0].")
    assert expected in problem


# --- the shape of the document -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "the registry is empty; it needs a 'facilities:' list"),
        ([BASE], "the top level must be a mapping with a 'facilities:' list (got list)"),
        ("facilities", "the top level must be a mapping with a 'facilities:' list (got str)"),
        ({}, "facilities: is required"),
        ({"facilities": None}, "facilities: must be a list (got None)"),
        ({"facilities": []}, "facilities: must list at least one facility"),
        ({"facilities": {"wz-a": BASE}}, "facilities: must be a list"),
        ({"facilities": ["wz-a"]}, "facilities[0]: must be a mapping of key: value (got 'wz-a')"),
    ],
)
def test_bad_document(data: object, expected: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(data, "reg.yaml")
    assert caught.value.problems == (expected,)
    assert str(caught.value) == f"reg.yaml: {expected}"


def test_unknown_top_level_key() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": [BASE], "facilites": []})
    assert caught.value.problems == ("facilites: unknown key; did you mean 'facilities'?",)


def test_every_problem_is_reported_once_per_line() -> None:
    second = facility(id="wz-2", timezone="Nowhere/City", type="X")
    problems = problems_of(facility(capacity=0), second, source="r.yaml")
    assert problems == [
        f"{LIB} capacity: must be greater than 0 (got 0)",
        f"facilities[1] (wz-2) {TYPE_HINT} (got 'X')",
        f"facilities[1] (wz-2) timezone: unknown time zone 'Nowhere/City'; {TZ_HINT}",
    ]


def test_registry_error_is_a_value_error_and_pickles() -> None:
    error = RegistryError(["a: one", "b: two"], "x.yaml")
    assert isinstance(error, ValueError)
    assert str(error) == "x.yaml: a: one\nx.yaml: b: two"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# --- files -------------------------------------------------------------------------------------------


def test_invalid_yaml_gives_path_and_line() -> None:
    path = DATA / "registry_bad_syntax.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid YAML at line 8, column 5: ")
    assert "(while parsing a flow mapping from line 7)" in message


def test_duplicate_yaml_key_is_an_error() -> None:
    path = DATA / "registry_duplicate_key.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value) == f"{path}: invalid YAML at line 9, column 5: found duplicate key 'capacity'"


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = BASE_YAML.replace("    opening_hours:", "    opening_hours: &hours").replace(
        '      tue: ["09:00-12:00"]\n',
        '      tue: ["09:00-12:00"]\n  - <<: *base\n    id: wz-2\n',
    )
    text = text.replace("  - id: wz-lc-lib-001", "  - &base\n    id: wz-lc-lib-001")
    path = tmp_path / "merge.yaml"
    path.write_text(text, encoding="utf-8")
    registry = load_registry(path)
    assert [f.id for f in registry] == ["wz-lc-lib-001", "wz-2"]
    assert registry.get("wz-2").capacity == 120


def test_file_problems_carry_the_path() -> None:
    path = DATA / "registry_bad_many.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value).splitlines() == [
        f"{path}: facilities[0] (wz-lc-lib-001) capacity: must be greater than 0 (got 0)",
        f"{path}: {LIB} opening_hours.tue[1]: got the number 840: {QUOTE_HINT}",
        f"{path}: facilities[1] (wz-lc-lib-001) id: duplicate of facilities[0]",
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read the file"):
        load_registry(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(BASE_YAML.encode("gbk"))
    with pytest.raises(RegistryError) as caught:
        load_registry(str(path))
    assert str(caught.value).startswith(f"{path}: is not UTF-8 text (bad byte at offset ")


def test_bom_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE_YAML.encode())
    assert len(load_registry(path)) == 1
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="the registry is empty"):
        load_registry(path)


# --- behaviour of the models ----------------------------------------------------------------------------


@pytest.fixture
def lib() -> Facility:
    closures = [
        {"from": "2025-10-01", "to": "2025-10-07", "reason": "holiday"},
        {"from": "2025-10-05", "to": "2025-10-10", "reason": "repairs"},
    ]
    return parse_registry({"facilities": [facility(closures=closures)]}).facilities[0]


def test_hours_on(lib: Facility) -> None:
    assert [str(r) for r in lib.hours_on(1)] == ["09:00-12:00", "14:00-20:00"]
    assert lib.hours_on(0) == ()
    assert lib.hours_on(date(2025, 11, 26).weekday()) == lib.opening_hours["wed"]
    with pytest.raises(ValueError, match="weekday must be 0"):
        lib.hours_on(7)


def test_is_closure_day_includes_both_ends(lib: Facility) -> None:
    assert lib.is_closure_day(date(2025, 9, 30)) is None
    assert lib.is_closure_day(date(2025, 10, 1)).reason == "holiday"
    assert lib.is_closure_day(date(2025, 10, 7)).reason == "holiday"
    assert lib.is_closure_day(date(2025, 10, 8)).reason == "repairs"
    assert lib.is_closure_day(date(2025, 10, 10)).reason == "repairs"
    assert lib.is_closure_day(date(2025, 10, 11)) is None


def test_weekly_open_minutes(lib: Facility) -> None:
    assert lib.weekly_open_minutes == (3 + 6 + 11) * 60


@pytest.mark.parametrize(
    ("prefix", "matches"),
    [
        ("zhejiang", True),
        ("zhejiang/wenzhou", True),
        ("zhejiang/wenzhou/", True),
        ("zhejiang/wenzhou/lucheng", True),
        ("", True),
        ("zhejiang/wenzhoux", False),
        ("zhejiang/wen", False),
        ("zhe", False),
        ("zhejiang/wenzhou/lucheng/x", False),
        ("wenzhou", False),
        ("zhejiang/wenzhou/ouhai", False),
    ],
)
def test_region_matches(lib: Facility, prefix: str, matches: bool) -> None:
    assert lib.region_matches(prefix) is matches


def test_models_are_frozen_and_hash_by_id(lib: Facility) -> None:
    with pytest.raises(ValidationError):
        lib.capacity = 5  # type: ignore[misc]
    twin = Facility.model_validate(facility(name="另一个名字"))
    assert hash(twin) == hash(lib)
    assert twin != lib
    assert {lib, lib} == {lib}


def test_registry_lookup() -> None:
    second = facility(id="wz-2", type="gym", region="zhejiang")
    registry = parse_registry({"facilities": [facility(), second]})
    assert len(registry) == 2
    assert [f.id for f in registry] == ["wz-lc-lib-001", "wz-2"]
    assert registry.get("wz-2").type == "gym"
    assert registry.get("missing") is None
    assert registry.by_id["wz-2"] is registry.get("wz-2")
    assert list(registry.by_id) == ["wz-lc-lib-001", "wz-2"]
    assert "wz-2" in registry
    assert "missing" not in registry
    assert registry.get("wz-2") in registry
    assert registry.types() == ("gym", "library")
    assert registry.regions() == ("zhejiang", "zhejiang/wenzhou/lucheng")
    with pytest.raises(TypeError):
        registry.by_id["x"] = registry.get("wz-2")  # type: ignore[index]


def test_registry_equality_and_python_construction() -> None:
    one = parse_registry({"facilities": [BASE]})
    assert one == parse_registry({"facilities": [copy.deepcopy(BASE)]})
    built = Registry(facilities=(Facility.model_validate(BASE),))
    assert built == one
    with pytest.raises(ValidationError, match="duplicate of facilities"):
        Registry(facilities=(built.facilities[0], built.facilities[0]))


def test_parse_registry_does_not_change_its_input() -> None:
    data = {"facilities": [facility(opening_hours={"mon": None, "tue": ["14:00-15:00", "09:00-10:00"]})]}
    before = copy.deepcopy(data)
    parse_registry(data)
    assert data == before


def test_registry_pickles_and_copies_for_worker_processes() -> None:
    registry = load_registry(EXAMPLE)
    restored = pickle.loads(pickle.dumps(registry))
    assert restored == registry
    assert restored.get("wz-lc-gym-002") == registry.get("wz-lc-gym-002")
    assert copy.deepcopy(registry).by_id.keys() == registry.by_id.keys()


@pytest.mark.parametrize("region", ["浙江省/丽水市/缙云县", "zhejiang/lishui/jinyun", "浙江省/lishui/缙云县-2",
                                    "〇〇一"])
def test_regions_may_be_written_in_any_script(region: str) -> None:
    registry = parse_registry({"facilities": [facility(region=region)]})
    assert registry.regions() == (region,)


def test_regions_are_stored_in_nfc_so_one_place_has_one_spelling() -> None:
    composed, decomposed = "montréal/é", "montre\u0301al/e\u0301"
    registry = parse_registry({"facilities": [facility(region=decomposed)]})
    assert registry.regions() == (composed,)
    assert registry.facilities[0].region_matches("montre\u0301al")


@pytest.mark.parametrize(("prefix", "matches"), [
    ("浙江省", True), ("浙江省/丽水市", True), ("浙江省/丽水市/", True), ("浙江省/丽水", False), ("丽水市", False),
    ("", True),
])
def test_chinese_region_prefixes_match_whole_levels(prefix: str, matches: bool) -> None:
    hall = parse_registry({"facilities": [facility(region="浙江省/丽水市/缙云县")]}).facilities[0]
    assert hall.region_matches(prefix) is matches


def test_every_region_problem_is_named_at_once() -> None:
    message = only_problem(facility(region="Zhe jiang//\u202e"))
    assert "has an empty level" in message
    assert "U+0020 SPACE, U+202E RIGHT-TO-LEFT OVERRIDE" in message
    assert "has uppercase letters" in message
    assert "\u202e" not in message  # shown as an escape, so the message itself cannot be turned around


def test_type_names_built_in_and_overridden_by_the_registry() -> None:
    registry = parse_registry({"facilities": [facility()],
                               "types": {"library": {"zh_CN": "城市书房"}, "museum": {"en": "Museum"}}})
    assert registry.display_type("library", "zh_CN") == "城市书房"
    assert registry.display_type("library", "en") == "Library"  # not overridden in English: the built-in name
    assert registry.display_type("cultural_hall", "zh_CN.UTF-8") == "文化礼堂"
    assert registry.display_type("museum", "zh_CN") == "Museum"  # no Chinese name: the other language
    assert registry.display_type("stadium", "en") == "stadium"  # nobody named it: the code


def test_bad_type_names_are_refused() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": [facility()], "types": {"Library": {"zh_CN": "图书馆"}, "gym": {"fr": "x"}}})
    assert "types: 'Library' is not a type code" in str(caught.value)
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": [facility()], "types": {"gym": {"zh_CN": "健身\n房"}}})
    assert "types.gym.zh_CN: must be a single line without control characters" in str(caught.value)


def test_calendar_policies_default_to_as_usual() -> None:
    lib = parse_registry({"facilities": [facility()]}).facilities[0]
    assert (lib.holidays, lib.adjusted_workdays) == ("as_usual", "as_usual")
    lib = parse_registry({"facilities": [facility(holidays="closed", adjusted_workdays="weekday_hours")]}).facilities[0]
    assert (lib.holidays, lib.adjusted_workdays) == ("closed", "weekday_hours")
