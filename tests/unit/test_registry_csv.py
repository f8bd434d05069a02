"""Registry import from a spreadsheet: bad cells are named by row and column, YAML round-trips."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from sensors.registry import Closure, Location, RegistryError, load_registry, parse_registry
from sensors.registry_csv import COLUMNS, import_csv, parse_rows, registry_to_yaml

DATA = Path(__file__).parent.parent / "data"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "registry.yaml"
HEADER = list(COLUMNS)
RANGE_HINT = 'must look like "09:00-12:00", HH:MM-HH:MM on a 24-hour clock'


def row(**cells: str) -> list[str]:
    """A valid CSV row in COLUMNS order, with some cells replaced."""
    values = {
        "id": "wz-a",
        "name": "图书馆",
        "type": "library",
        "region": "zhejiang/wenzhou",
        "capacity": "50",
        "tue": "09:00-12:00",
    }
    values.update(cells)
    return [values.get(name, "") for name in COLUMNS]


def problems_of(*rows: list[str], header: list[str] = HEADER) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        parse_rows([header, *rows], "sheet.csv")
    assert all(line.startswith("sheet.csv: ") for line in str(caught.value).splitlines())
    return list(caught.value.problems)


def test_good_csv_with_bom_crlf_and_chinese() -> None:
    registry = import_csv(DATA / "registry_good.csv")
    assert [f.id for f in registry] == ["wz-lc-lib-001", "wz-lc-gym-002"]
    lib = registry.get("wz-lc-lib-001")
    assert lib is not None
    assert lib.name == "鹿城区图书馆五马分馆"
    assert lib.timezone == "Asia/Shanghai"  # empty cell: the default
    assert lib.hours_on(0) == ()
    assert [str(r) for r in lib.hours_on(1)] == ["09:00-12:00", "14:00-20:00"]
    assert [str(r) for r in lib.hours_on(6)] == ["09:00-17:00"]
    assert lib.closures == (
        Closure(start=date(2025, 10, 1), end=date(2025, 10, 7), reason="国庆节"),
        Closure(start=date(2025, 12, 25), end=date(2025, 12, 25), reason="repairs"),
    )
    assert lib.location == Location(lat=28.0, lon=120.65)
    assert lib.department == "鹿城区文广旅体局"

    gym = registry.get("wz-lc-gym-002")
    assert gym is not None
    assert gym.name == "羽毛球馆, 二楼"  # a quoted cell keeps its comma
    assert [str(r) for r in gym.hours_on(0)] == ["06:00-09:00", "17:00-22:00"]
    assert gym.hours_on(4)[0].crosses_midnight
    assert set(gym.opening_hours) == {"mon", "fri"}
    assert gym.closures == ()
    assert gym.location is None
    assert gym.department is None


def test_optional_columns_may_be_left_out_and_order_is_free() -> None:
    header = ["name", "id", "type", "region", "capacity", "sun", "sat", "fri", "thu", "wed", "tue", "mon"]
    cells = ["馆", "wz-x", "gym", "zhejiang", "7", "", "", "", "", "", "", "10:00-11:00"]
    registry = parse_rows([header, cells])
    assert registry.get("wz-x").hours_on(0)[0].minutes == 60
    assert registry.get("wz-x").name == "馆"


def test_header_is_case_and_space_insensitive_and_unnamed_empty_columns_are_ignored() -> None:
    header = [f" {name.upper()} " for name in HEADER] + ["", ""]
    registry = parse_rows([header, [*row(), "", ""]])
    assert registry.get("wz-a") is not None


def test_bad_rows_from_file_name_row_and_column() -> None:
    path = DATA / "registry_bad.csv"
    with pytest.raises(RegistryError) as caught:
        import_csv(path)
    assert str(caught.value).splitlines() == [
        f"{path}: row 2 (wz-a) column capacity: must be a whole number (got 'ten')",
        f"{path}: row 3 (wz-b) column lon: lat and lon must both be filled in or both be empty",
        f"{path}: row 3 (wz-b) column mon: {RANGE_HINT} (got '9-12')",
        f"{path}: row 3 (wz-b) column closures: 2025-10-01 is before from (2025-10-07)",
        f"{path}: row 4 (wz-c) column closures: write closures like "
        "\"2025-10-01..2025-10-07 holiday; 2025-12-25 repairs\" (got 'next week')",
        f"{path}: row 5 (wz-a) column id: duplicate of row 2",
    ]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"id": "wz a"}, "row 2 column id: must match"),
        ({"id": "alerts"}, "row 2 (alerts) column id: 'alerts' is reserved"),
        ({"name": ""}, "row 2 (wz-a) column name: must not be empty"),
        ({"capacity": "0"}, "row 2 (wz-a) column capacity: must be greater than 0 (got 0)"),
        ({"capacity": "12.5"}, "row 2 (wz-a) column capacity: must be a whole number (got '12.5')"),
        ({"capacity": ""}, "row 2 (wz-a) column capacity: must be a whole number (got '')"),
        ({"timezone": "Beijing"}, "row 2 (wz-a) column timezone: unknown time zone 'Beijing'"),
        ({"wed": "09:00-12:00;25:00-26:00"}, "row 2 (wz-a) column wed: '25:00-26:00' starts at a time"),
        (
            {"sat": "09:00-12:00; 11:00-13:00"},
            "row 2 (wz-a) column mon..sun: sat 09:00-12:00 overlaps sat 11:00",
        ),
        ({"closures": "2025-10-01..2025-10-03"}, "row 2 (wz-a) column closures: write closures like"),
        (
            {"closures": "2025-02-30 repairs"},
            "row 2 (wz-a) column closures: '2025-02-30' is not a calendar date",
        ),
        ({"lat": "91", "lon": "120"}, "row 2 (wz-a) column lat: must be less than or equal to 90 (got 91.0)"),
        ({"lat": "north", "lon": "120"}, "row 2 (wz-a) column lat: must be a number (got 'north')"),
        ({"lat": "28"}, "row 2 (wz-a) column lon: lat and lon must both be filled in or both be empty"),
        ({"region": "Zhejiang"}, "row 2 (wz-a) column region: must be a region path like"),
    ],
)
def test_bad_cell(cells: dict[str, str], expected: str) -> None:
    problems = problems_of(row(**cells))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_every_bad_row_is_reported_and_blank_rows_keep_excel_numbering() -> None:
    problems = problems_of(row(), ["", "", ""], row(id="wz-b", capacity="-3"), row(id="wz-a", name="again"))
    assert problems == [
        "row 4 (wz-b) column capacity: must be greater than 0 (got -3)",
        "row 5 (wz-a) column id: duplicate of row 2",
    ]


def test_stray_cell_beyond_the_header() -> None:
    assert problems_of([*row(), "extra"]) == [
        f"row 2 (wz-a): cell {len(HEADER) + 1} has no column name; is a comma misplaced?"
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ([*HEADER, "notes"], "row 1 (header): column 'notes' is unknown; use id, name, type"),
        ([*HEADER, "id"], "row 1 (header): column 'id' appears twice"),
        ([name for name in HEADER if name != "sat"], "row 1 (header): column 'sat' is missing"),
    ],
)
def test_bad_header(header: list[str], expected: str) -> None:
    problems = problems_of(row(), header=header)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_empty_sheet_and_header_only() -> None:
    with pytest.raises(RegistryError, match="the file is empty"):
        parse_rows([])
    with pytest.raises(RegistryError, match="no facility rows below the header"):
        parse_rows([HEADER, ["", ""]])


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(RegistryError) as caught:
        import_csv(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"


def test_excel_gbk_export_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((",".join(HEADER) + "\n" + ",".join(row()) + "\n").encode("gbk"))
    with pytest.raises(RegistryError) as caught:
        import_csv(path)
    assert str(caught.value).startswith(f"{path}: is not UTF-8 text (bad byte at offset ")
    assert str(caught.value).endswith("save the sheet as 'CSV UTF-8'")


def test_csv_round_trips_through_yaml(tmp_path: Path) -> None:
    imported = import_csv(DATA / "registry_good.csv")
    text = registry_to_yaml(imported)
    assert "name: 鹿城区图书馆五马分馆" in text  # readable, not \u escapes
    assert 'tue: ["09:00-12:00", "14:00-20:00"]' in text
    assert "- {from: 2025-10-01, to: 2025-10-07, reason: 国庆节}" in text
    assert "name: 羽毛球馆, 二楼" in text
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_registry(path) == imported


def test_example_round_trips_through_yaml() -> None:
    example = load_registry(EXAMPLE)
    text = registry_to_yaml(example)
    assert "simulation:\n    profile: busy" in text
    assert parse_registry(yaml.safe_load(text)) == example


def test_yaml_output_quotes_what_yaml_would_misread() -> None:
    cells = row(id="001", name="yes", department="2025-10-01", closures="2025-10-01 no: really")
    tricky = parse_rows([HEADER, cells])
    reloaded = parse_registry(yaml.safe_load(registry_to_yaml(tricky)))
    assert reloaded == tricky
    assert reloaded.get("001").name == "yes"
    assert reloaded.get("001").closures[0].reason == "no: really"


def test_holiday_policies_and_type_names_are_optional_columns(tmp_path: Path) -> None:
    """China's calendar (holidays, adjusted_workdays) and the types' display names, as the YAML registry has
    them; the header matches in any case, a type is named on any of its rows, and all of it reaches the YAML."""
    registry = parse_rows([
        [name.upper() if name.startswith("type_") else name for name in HEADER],
        row(id="wz-a", holidays="closed", adjusted_workdays="weekday_hours", type_zh_CN="城市书房"),
        row(id="wz-b", holidays="weekend_hours", type_zh_CN="城市书房", type_en="City reading room"),
        row(id="wz-c", type="cultural_hall"),
    ])
    a, b, c = registry
    assert (a.holidays, a.adjusted_workdays) == ("closed", "weekday_hours")
    assert (b.holidays, b.adjusted_workdays) == ("weekend_hours", "as_usual")
    assert (c.holidays, c.adjusted_workdays) == ("as_usual", "as_usual")  # empty cells: the defaults
    assert registry.display_type("library", "zh_CN") == "城市书房"
    assert registry.display_type("library", "en") == "City reading room"
    assert registry.display_type("cultural_hall", "zh_CN") == "文化礼堂"  # nobody renamed it: the built-in name
    text = registry_to_yaml(registry)
    assert "types:\n  library: {zh_CN: 城市书房, en: City reading room}\n" in text
    assert "  holidays: closed\n  adjusted_workdays: weekday_hours\n" in text
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_registry(path) == registry


def yaml_problems(entry: dict[str, object], **top: object) -> list[str]:
    """What the YAML registry says of a registry with one facility (``entry`` changed) and ``top``-level keys."""
    facility = {"id": "wz-a", "name": "图书馆", "type": "library", "region": "zhejiang/wenzhou", "capacity": 50,
                "opening_hours": {"tue": ["09:00-12:00"]}, **entry}
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": [facility], **top})
    return list(caught.value.problems)


def test_bad_policies_and_type_names_are_named_at_once_in_the_yaml_registrys_words() -> None:
    problems = problems_of(
        row(holidays="shut", adjusted_workdays="weekend_hours", type_zh_CN="书房", type_en="x" * 201),
        row(id="wz-b", type_zh_CN="城市书房"),
        row(id="wz-c", type="Lib", type_zh_CN="图书馆"),
        row(id="wz-d", type_zh_CN="书房", type_en="Reading room"),
    )
    assert problems == [
        "row 2 (wz-a) column holidays: must be 'as_usual', 'closed' or 'weekend_hours' (got 'shut')",
        "row 2 (wz-a) column adjusted_workdays: must be 'as_usual' or 'weekday_hours' (got 'weekend_hours')",
        "row 2 (wz-a) column type_en: must be at most 200 characters (got 201)",
        "row 4 (wz-c) column type: must be one lowercase word such as library or sports_hall (got 'Lib')",
        "row 5 (wz-d) column type_zh_CN: library is called '城市书房' in row 3 (wz-b); a type has one name "
        "(got '书房')",
    ]
    said = yaml_problems({"holidays": "shut", "adjusted_workdays": "weekend_hours"},
                         types={"library": {"en": "x" * 201}})
    assert said == ["facilities[0] (wz-a) " + problems[0].removeprefix("row 2 (wz-a) column "),
                    "facilities[0] (wz-a) " + problems[1].removeprefix("row 2 (wz-a) column "),
                    "types.library.en: " + problems[2].removeprefix("row 2 (wz-a) column type_en: ")]
