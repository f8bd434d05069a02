"""The parsed-registry cache (sensors.registry_cache): same bytes, same registry, never a foreign or damaged one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml

from facmon.core.settings import load_settings
from sensors import registry_cache
from sensors.registry import Registry, load_registry, parse_registry

HOURS = [
    {"mon": ["08:30-11:30", "13:30-17:00"], "tue": ["08:30-11:30", "13:30-17:00"], "sat": ["09:00-12:00"]},
    {"fri": ["17:00-02:00"], "sat": ["08:00-02:00"], "sun": ["02:00-24:00"], "thu": ["00:00-24:00"]},
    {"wed": ["06:00-09:00", "17:00-22:00"]},
]


def big_registry(count: int = 800) -> dict[str, object]:
    """Over registry_cache.MIN_BYTES, with every kind of field: closures, locations, Chinese text, types."""
    facilities = []
    for i in range(count):
        item: dict[str, object] = {
            "id": f"f-{i:05d}", "name": f"文化礼堂 {i} «hall»", "type": ("library", "cultural_hall")[i % 2],
            "region": f"浙江省/丽水市/县{i % 7}" if i % 3 else f"zhejiang/c{i % 5}",
            "capacity": 10 + i, "opening_hours": HOURS[i % len(HOURS)],
        }
        if i % 4 == 0:
            item["closures"] = [{"from": "2026-11-08", "to": "2026-11-20", "reason": "装修"}]
            item["holidays"] = "closed"
            item["adjusted_workdays"] = "weekday_hours"
        if i % 5 == 0:
            item["location"] = {"lat": 28.6, "lon": 120.07}
            item["department"] = "缙云县文广旅体局"
            item["timezone"] = "Europe/Berlin"
        if i % 6 == 0:
            item["simulation"] = {"profile": "busy", "sensors": 2}
        facilities.append(item)
    return {"types": {"cultural_hall": {"zh_CN": "文化礼堂", "en": "Cultural hall"}}, "facilities": facilities}


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(big_registry(), allow_unicode=True), encoding="utf-8")
    assert path.stat().st_size >= registry_cache.MIN_BYTES
    return path


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("registry-*.json"))


def test_a_cached_registry_equals_the_yaml_one_and_the_entry_is_private(registry_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    from_yaml = load_registry(registry_file)
    first = load_registry(registry_file, cache)
    (entry,) = entries(cache)
    assert entry.name == registry_cache.key(registry_file.read_bytes())
    assert entry.stat().st_mode & 0o777 == 0o600
    assert cache.stat().st_mode & 0o777 == 0o700
    second = load_registry(registry_file, cache)
    assert first == from_yaml
    assert second == from_yaml
    assert [f.opening_hours for f in second] == [f.opening_hours for f in from_yaml]
    assert second.display_type("cultural_hall", "zh_CN") == "文化礼堂"
    assert second.by_id["f-00004"].closures == from_yaml.by_id["f-00004"].closures


def plant(cache: Path, registry_file: Path, changed: Registry) -> None:
    """An entry for the file's bytes holding another (valid) registry, to see whether the cache is read."""
    cache.mkdir(mode=0o700, exist_ok=True)
    entry = cache / registry_cache.key(registry_file.read_bytes())
    entry.write_bytes(changed.model_dump_json(by_alias=True).encode())
    entry.chmod(0o600)


def renamed(registry: Registry) -> Registry:
    first = registry.facilities[0].model_copy(update={"name": "from the cache"})
    return registry.model_copy(update={"facilities": (first, *registry.facilities[1:])})


def test_the_entry_is_what_a_second_run_reads(registry_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plant(cache, registry_file, renamed(load_registry(registry_file)))
    assert load_registry(registry_file, cache).facilities[0].name == "from the cache"


def test_one_changed_byte_misses_and_is_read_from_yaml(registry_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plant(cache, registry_file, renamed(load_registry(registry_file)))
    registry_file.write_text(registry_file.read_text(encoding="utf-8").replace("文化礼堂 0 ", "文化礼堂 0!"),
                             encoding="utf-8")
    loaded = load_registry(registry_file, cache)
    assert loaded.facilities[0].name == "文化礼堂 0!«hall»"
    assert len(entries(cache)) == 2


@pytest.mark.parametrize("spoil", ["group_writable_dir", "world_writable_entry", "symlinked_entry"])
def test_a_cache_others_could_write_is_not_used(registry_file: Path, tmp_path: Path, spoil: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    plant(cache, registry_file, renamed(load_registry(registry_file)))
    entry = cache / registry_cache.key(registry_file.read_bytes())
    if spoil == "group_writable_dir":
        cache.chmod(0o770)
    elif spoil == "world_writable_entry":
        entry.chmod(0o602)
    else:
        target = tmp_path / "elsewhere.json"
        entry.rename(target)
        entry.symlink_to(target)
    with caplog.at_level(logging.WARNING):
        loaded = load_registry(registry_file, cache)
    assert loaded.facilities[0].name != "from the cache"
    assert loaded == load_registry(registry_file)


def test_a_damaged_entry_is_read_past_with_a_warning(registry_file: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    load_registry(registry_file, cache)
    (entry,) = entries(cache)
    entry.write_bytes(entry.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING):
        assert load_registry(registry_file, cache) == load_registry(registry_file)
    assert "damaged" in caplog.text


def test_small_registries_are_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(big_registry(3)), encoding="utf-8")
    load_registry(small, cache)
    assert not entries(cache)


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    names = [registry_cache.key(str(n).encode()) for n in range(registry_cache.KEEP + 3)]
    for n, name in enumerate(names):
        registry_cache.write(cache, name, b"{}")
        os.utime(cache / name, ns=(n * 10**9, n * 10**9))  # mtimes in write order, whatever the file system's clock
    registry_cache.write(cache, names[-1], b"{}")  # prunes
    assert [p.name for p in entries(cache)] == sorted(names[3:])


def test_an_unwritable_cache_costs_nothing_but_time(registry_file: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    assert load_registry(registry_file, blocked / "cache") == load_registry(registry_file)


def test_the_cache_setting() -> None:
    on = load_settings({"cache_dir": "/var/cache/x"})
    assert on.registry_cache_dir == Path("/var/cache/x")
    assert load_settings({"registry_cache": False, "cache_dir": "/var/cache/x"}).registry_cache_dir is None


def test_the_json_a_registry_is_kept_as_reads_back_as_the_same_registry() -> None:
    registry = parse_registry(big_registry(50))
    assert Registry.model_validate_json(registry.model_dump_json(by_alias=True)) == registry
