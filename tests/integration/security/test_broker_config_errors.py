"""`facmon broker-config` refuses to write anything when a secret or an entry is wrong, and says so plainly.

Run through `facmon.cli.main.main` in this process (the real-process run is in conftest's broker_files fixture).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facmon.cli.main import main
from tests.integration.ingester import LIBRARY, REGISTRY_YAML

GOOD_SECRET = "a-long-enough-secret-1"
INTEGRATORS = """\
ingester: {password_env: T_PW_INGEST}
analytics: {password_env: T_PW_ANALYTICS}
integrators:
  - {username: alpha, password_file: SECRET_FILE, facilities: [FACILITY]}
"""


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *, secret: str,
        facility: str = LIBRARY, env: dict[str, str] | None = None, mode: int = 0o600) -> tuple[int, str]:
    for key in list(os.environ):
        if key.upper().startswith(("FACMON_", "T_PW_")):
            monkeypatch.delenv(key)
    for key, value in (env or {"T_PW_INGEST": GOOD_SECRET, "T_PW_ANALYTICS": GOOD_SECRET}).items():
        monkeypatch.setenv(key, value)
    secret_file = tmp_path / "alpha.pw"
    secret_file.write_text(secret)
    secret_file.chmod(mode)
    (tmp_path / "registry.yaml").write_text(REGISTRY_YAML, encoding="utf-8")
    (tmp_path / "i.yaml").write_text(
        INTEGRATORS.replace("SECRET_FILE", str(secret_file)).replace("FACILITY", facility)
    )
    code = main(["broker-config", "--registry", str(tmp_path / "registry.yaml"), "--integrators",
                 str(tmp_path / "i.yaml"), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(
    ("secret", "env", "expected"),
    [
        ("short-pw\n", None, "integrators[0] (alpha): file {dir}/alpha.pw holds a password shorter than 12"),
        (f"{GOOD_SECRET}\nsecond line\n", None, "integrators[0] (alpha): file {dir}/alpha.pw must hold the password "
         "on one line"),
        (GOOD_SECRET, {"T_PW_ANALYTICS": GOOD_SECRET},
         "ingester (facmon-ingest): environment variable T_PW_INGEST is not set"),
        ("change-me-mqtt-simulator\n", None, "integrators[0] (alpha): file {dir}/alpha.pw holds an example password"),
        (GOOD_SECRET, {"T_PW_ANALYTICS": GOOD_SECRET, "T_PW_INGEST": "change-me-mqtt-ingest"},
         "ingester (facmon-ingest): environment variable T_PW_INGEST holds an example password"),
    ],
    ids=["short", "two-lines", "env-missing", "example-file", "example-env"],
)
def test_a_bad_secret_writes_nothing_and_is_named_but_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], secret: str,
    env: dict[str, str] | None, expected: str,
) -> None:
    code, out = run(tmp_path, monkeypatch, capsys, secret=secret, env=env)
    assert code == 1, out
    assert out.startswith(f"facmon: {expected.format(dir=tmp_path)}"), out
    assert not (tmp_path / "out").exists()
    assert "short-pw" not in out
    assert GOOD_SECRET not in out


def test_an_unknown_facility_is_a_usage_error_naming_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(tmp_path, monkeypatch, capsys, secret=GOOD_SECRET, facility="wz-xx-404")
    assert code == 2, out
    assert out.strip() == (
        f"facmon: {tmp_path}/i.yaml: integrators[0] (alpha) facilities[0]: unknown facility 'wz-xx-404' "
        "(not in the registry)"
    )
    assert not (tmp_path / "out").exists()


def test_a_loose_secret_file_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(tmp_path, monkeypatch, capsys, secret=GOOD_SECRET, mode=0o644)
    assert code == 0, out
    assert f"warning: password file {tmp_path}/alpha.pw can be read by other users" in out
    assert GOOD_SECRET not in out + "".join(p.read_text() for p in (tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", ["passwd", "acl", "dynsec.json", "mosquitto.conf"])
def test_a_planted_symlink_is_refused_and_its_target_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / name).symlink_to(target)
    code, out = run(tmp_path, monkeypatch, capsys, secret=GOOD_SECRET)
    assert code == 1, out
    assert f"{name} is a symbolic link; remove it (nothing was written)" in out
    assert target.read_text() == "precious\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [name]


def test_a_symlinked_output_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    code, out = run(tmp_path, monkeypatch, capsys, secret=GOOD_SECRET)
    assert code == 1, out
    assert "a symbolic link is refused" in out
    assert list((tmp_path / "real").iterdir()) == []
