"""facmon as a user gets it: a wheel built from the repository, installed (not editable) into a fresh venv,
runs `facmon broker-config` and `facmon demo` with no repository around it.

Both commands read files shipped as package data (facmon/resources: the broker settings, the sample county), so
this is the test that fails when one of them is left out of the wheel or found by walking up from `__file__`.
No network: the wheel is built with the project venv's setuptools (--no-build-isolation) and the fresh venv
borrows the project venv's dependencies through a .pth line, after its own site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from facmon.demo.localstack import ServerUnavailable, require_binary
from sensors.registry import load_registry
from tests.conftest import server_missing
from tests.integration.ingester import LIBRARY, REGISTRY_YAML

pytestmark = [pytest.mark.slow, pytest.mark.servers]

REPO = Path(__file__).resolve().parents[2]
#: What the wheel is built from: the files the Dockerfile copies, nothing else of the repository.
SOURCES = ("pyproject.toml", "README.md", "facmon", "sensors", "ingest", "analytics", "dashboards")
RESOURCES = ("facmon/resources/facmon.conf", "facmon/resources/county.yaml",
             "facmon/resources/locale/zh_CN/LC_MESSAGES/facmon.mo", "facmon/resources/locale/en/LC_MESSAGES/facmon.mo")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path  # an empty working directory, so nothing is imported from the current directory

    @property
    def facmon(self) -> Path:
        return self.venv / "bin" / "facmon"

    def env(self, **extra: str) -> dict[str, str]:
        path = os.pathsep.join([str(self.venv / "bin"), os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin",
                                "/sbin"])
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("FACMON_", "PYTHON"))}
        return {**base, "PATH": path, **extra}

    def run(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*args], capture_output=True, text=True, env=self.env(**env), cwd=self.home,
                              timeout=timeout, check=False)


def _ignore_caches(_directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith(".egg-info")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=_ignore_caches)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("facmon-*.whl")

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target_purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    # The dependencies (pandas, paho, ...) come from the project venv, searched after the fresh venv's own
    # site-packages; a path line in a .pth file adds only that directory, so the editable facmon there stays off.
    Path(target_purelib, "zz-project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index",
         "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    home = work / "home"
    home.mkdir()
    return Installed(wheel, venv, home)


def test_the_wheel_ships_the_run_time_files_and_no_tests(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert set(RESOURCES) <= names
    assert not [name for name in names if name.startswith(("tests/", "bench/", "examples/", "deploy/"))]


def test_facmon_is_imported_from_the_installed_wheel(installed: Installed) -> None:
    result = installed.run(str(installed.venv / "bin" / "python"), "-c",
                           "import facmon.resources as r; print(r.__file__); print(r.mosquitto_conf())")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert Path(line).is_relative_to(installed.venv), line


def test_the_installed_wheel_speaks_chinese(installed: Installed) -> None:
    result = installed.run(str(installed.facmon), "schema", FACMON_LANGUAGE="klingon", LANG="zh_CN.UTF-8")
    assert result.returncode == 2
    assert result.stderr.startswith("facmon：设置 FACMON_LANGUAGE 无效："), result.stderr  # the shipped catalog


def test_broker_config_runs_from_the_installed_wheel(installed: Installed) -> None:
    try:
        require_binary("mosquitto_passwd")
    except ServerUnavailable as exc:
        server_missing(exc)
    registry = installed.home / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    integrators = installed.home / "integrators.yaml"
    integrators.write_text(
        "ingester: {password_env: W_PW_INGEST}\n"
        "analytics: {password_env: W_PW_ANALYTICS}\n"
        "integrators:\n"
        f"  - {{username: wheel-iot, password_env: W_PW_IOT, facilities: [{LIBRARY}]}}\n"
    )
    out = installed.home / "broker"
    result = installed.run(str(installed.facmon), "broker-config", "--registry", str(registry), "--integrators",
                           str(integrators), "--out", str(out),
                           W_PW_INGEST="ingest-secret-1", W_PW_ANALYTICS="analytics-secret-1", W_PW_IOT="iot-secret-1")
    assert result.returncode == 0, result.stdout + result.stderr
    conf = (out / "mosquitto.conf").read_text()
    shipped = (REPO / RESOURCES[0]).read_text()
    assert shipped.rstrip("\n") in conf  # the shipped broker settings, read from the installed package


def test_demo_runs_from_the_installed_wheel(installed: Installed) -> None:
    try:
        require_binary("mosquitto")
        require_binary("influxd")
    except ServerUnavailable as exc:
        server_missing(exc)
    output = installed.home / "demo-output"
    result = installed.run(str(installed.facmon), "demo", "--output", str(output), timeout=300)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    (analysis,) = output.glob("analysis-*.json")
    facilities = {row["facility_id"] for row in json.loads(analysis.read_text(encoding="utf-8"))["facilities"]}
    assert facilities == {f.id for f in load_registry(REPO / RESOURCES[1])}
