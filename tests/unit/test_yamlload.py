"""Every YAML input goes through facmon.core.yamlload: size, expansion and alias limits, duplicate keys, one line each.

No timing: each test bounds the work instead (a document refused for its expansion names the limit, and the
loader counts in constant memory from the parser's events, so a refused bomb was never built)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analytics.alerts.auditors import AuditorsError, load_auditors
from analytics.analysis.rules import RulesError, load_rules
from facmon.core import yamlload
from facmon.core.settings import SettingsError, load_settings
from sensors.registry import MAX_FACILITIES, RegistryError, load_registry, parse_registry

REPO = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """A billion-laughs document: each level lists the one before ``width`` times (width**levels strings)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_the_alias_bomb_of_the_issue_is_refused_by_the_expansion_limit(tmp_path: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) < 600  # the issue's was 460 bytes, 10**9 nodes
    path = tmp_path / "registry.yaml"
    path.write_text(bomb)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    message = str(caught.value)
    assert message == (f"{path}: the document expands to more than {yamlload.REGISTRY.max_nodes:,} nodes (the "
                       "limit; nested aliases, or far too many entries)")
    assert "\n" not in message


@pytest.mark.parametrize("limits", [yamlload.CONFIG, yamlload.REGISTRY])
def test_expansion_is_counted_from_events_without_building_the_document(limits: yamlload.Limits) -> None:
    """One level deeper than the issue's second try: still refused, and the count stops at the limit."""
    with pytest.raises(yamlload.YamlError, match=f"more than {limits.max_nodes:,} nodes"):
        yamlload.check_size(alias_bomb(levels=12), limits)


def test_a_few_aliases_and_merge_keys_stay_usable() -> None:
    data = yamlload.load("hours: &h {mon: ['09:00-17:00']}\na: {<<: *h, tue: []}\nb: *h\n", yamlload.CONFIG)
    assert data == {"hours": {"mon": ["09:00-17:00"]}, "a": {"mon": ["09:00-17:00"], "tue": []},
                    "b": {"mon": ["09:00-17:00"]}}
    many = "x: &x 1\ny: [" + ",".join(["*x"] * (yamlload.CONFIG.max_aliases + 1)) + "]\n"
    with pytest.raises(yamlload.YamlError, match=f"more than {yamlload.CONFIG.max_aliases:,} aliases"):
        yamlload.load(many, yamlload.CONFIG)


def test_duplicate_keys_are_refused_with_the_line() -> None:
    with pytest.raises(yamlload.YamlError, match="at line 2, column 1: found duplicate key 'a'"):
        yamlload.load("a: 1\na: 2\n", yamlload.CONFIG)


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    with path.open("wb") as handle:
        handle.truncate(yamlload.CONFIG.max_bytes + 1)  # sparse: nothing to read anyway
    with pytest.raises(RulesError) as caught:
        load_rules(str(path))
    assert str(caught.value) == (f"{path}: the file has {yamlload.CONFIG.max_bytes + 1:,} bytes, over the limit of "
                                 f"{yamlload.CONFIG.max_bytes:,} bytes")


def test_every_yaml_input_uses_the_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    with pytest.raises(RulesError, match="nodes"):
        load_rules(str(bomb))
    with pytest.raises(AuditorsError, match="nodes"):
        load_auditors(bomb)
    monkeypatch.setenv("FACMON_CONFIG", str(bomb))
    with pytest.raises(SettingsError, match=f"FACMON_CONFIG: {bomb}: the document expands to more than"):
        load_settings()
    monkeypatch.delenv("FACMON_CONFIG")
    from facmon.access.brokerconfig import load_integrators
    from facmon.access.rules import AccessError

    with pytest.raises(AccessError, match="nodes"):
        load_integrators(bomb, parse_registry({"facilities": [
            {"id": "f", "name": "n", "type": "t", "region": "r", "capacity": 1, "opening_hours": {}}]}))


def test_too_many_facilities_is_one_line_naming_the_limit() -> None:
    facility = {"id": "f", "name": "n", "type": "t", "region": "r", "capacity": 1}
    with pytest.raises(RegistryError) as caught:
        parse_registry({"facilities": [facility] * (MAX_FACILITIES + 1)}, "big.yaml")
    assert str(caught.value) == (f"big.yaml: {MAX_FACILITIES + 1:,} facilities, over the limit of "
                                 f"{MAX_FACILITIES:,} per registry (split it by region and run a facmon per part)")


def test_a_two_million_facility_registry_fails_with_one_line(tmp_path: Path) -> None:
    """The issue's MemoryError: the shortest entries YAML allows, 2,000,000 of them, through `facmon registry
    check` as a user runs it; one line on stderr and exit code 2, whatever limit it meets first."""
    path = tmp_path / "huge.yaml"
    with path.open("w") as out:
        out.write("facilities:\n")
        for start in range(0, 2_000_000, 100_000):
            out.write("".join(f"- {{id: f{i}, name: n, type: t, region: r, capacity: 1}}\n"
                              for i in range(start, start + 100_000)))
    done = subprocess.run([sys.executable, "-m", "facmon", "registry", "check", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"facmon: {path}: the file has "), line
    assert line.endswith(f"over the limit of {yamlload.REGISTRY.max_bytes:,} bytes"), line
