"""`facmon dashboards render|check` and the facility_info lines of sync-registry (pure parts)."""

from __future__ import annotations

from pathlib import Path

from dashboards import render
from dashboards.registry_sync import info_line, info_lines
from facmon.cli.main import main
from sensors.registry import load_registry

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "registry.yaml"


def test_check_passes_on_the_repository(capsys):
    assert main(["dashboards", "check"]) == 0
    assert "up to date" in capsys.readouterr().err


def test_render_then_check_a_directory(tmp_path, capsys):
    assert main(["dashboards", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "en/overview.json: missing" in out
    assert "zh_CN/overview.json: missing" in out
    assert main(["dashboards", "render", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == len(render.rendered_files())
    assert main(["dashboards", "check", "--dir", str(tmp_path)]) == 0
    assert main(["dashboards", "render", "--dir", str(tmp_path)]) == 0
    assert "wrote" not in capsys.readouterr().out  # nothing changed


def test_facility_info_lines():
    registry = load_registry(EXAMPLE)
    library = registry.get("wz-lc-lib-001")
    line = info_line(library, 5)
    assert line.startswith("facility_info,facility=wz-lc-lib-001,region=zhejiang/wenzhou/lucheng,"
                           "timezone=Asia/Shanghai,type=library ")
    assert "lat=28.0,lon=120.65" in line
    assert "capacity=120i" in line
    assert line.endswith(" 5")
    gym = info_line(registry.get("wz-lc-gym-002"), 5)
    assert "lat=" not in gym
    assert "department=" in gym
    assert len(info_lines(registry, 1)) == len(registry)


def test_sync_registry_needs_a_valid_registry(tmp_path, capsys):
    bad = tmp_path / "registry.yaml"
    bad.write_text("facilities: []\n")
    assert main(["dashboards", "sync-registry", "--registry", str(bad), "--influx-url", "http://127.0.0.1:9"]) == 2
    assert "at least one facility" in capsys.readouterr().err


def test_sync_registry_refuses_a_bad_interval(capsys):
    code = main(["dashboards", "sync-registry", "--registry", str(EXAMPLE), "--every", "10s"])
    assert code == 2
    assert "--every" in capsys.readouterr().err
