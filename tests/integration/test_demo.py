"""`facmon demo` end to end, as `make demo` runs it: real Mosquitto, InfluxDB and ingester, the whole sample county.

What the demo prints is checked against what facmon/resources/county.yaml says each facility's sensors do (its
`simulation.profile`), derived here from the file, so a county edited tomorrow is checked the same way.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from openpyxl import load_workbook
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, ServerUnavailable, require_binary
from facmon.resources import sample_county
from sensors.registry import Facility, load_registry
from tests.conftest import pinned_env, server_missing

pytestmark = pytest.mark.servers

REPO = Path(__file__).resolve().parents[2]
COUNTY = load_registry(sample_county())
WINDOW_DAYS = 28
#: What each honest profile makes of a facility (docs/simulator.md); other profiles are not flagged.
FLAGGING_PROFILES = {"underused": "UNDERUSED", "idle": "IDLE", "night_only": "IDLE", "offline": "NO_DATA"}
#: Profiles whose sensors fake their figures, one for each integrity check but too_regular (forged_copy trips it).
FORGED_PROFILES = {"forged_flat", "forged_copy", "clone_of", "impossible", "late_backfill", "forged_noisy_copy",
                   "forged_memoryless", "forged_jittered_days", "forged_digits"}
#: Profiles that copy another facility's feed, exactly or with noise: the source is flagged with the copy.
COPYING_PROFILES = {"clone_of", "forged_noisy_copy"}
EXEMPT_CLOSED_SHARE = 0.5  # docs/analytics.md: EXEMPT when closed on purpose for more than half the opening hours
FLAGGED = {"IDLE", "UNDERUSED", "NO_DATA"}
STATUSES = ("IDLE", "UNDERUSED", "NO_DATA", "EXEMPT", "ACTIVE")
WORKDIR = re.compile(r"work directory (/[^\s)]+)")


def profile(facility: Facility) -> str:
    return str((facility.simulation or {}).get("profile", "normal"))


def closed_share(facility: Facility, as_of: date) -> float:
    """Share of the window's opening minutes that fall on closure days, from the registry alone."""
    total = closed = 0
    for back in range(WINDOW_DAYS, 0, -1):
        day = as_of - timedelta(days=back)
        minutes = sum(span.minutes for span in facility.hours_on(day.weekday()))
        total += minutes
        if any(c.start <= day <= c.end for c in facility.closures):
            closed += minutes
    return closed / total if total else 1.0


def expected_statuses(as_of: date) -> dict[str, str]:
    """Every facility's status as the county's profiles and closures predict it."""
    out = {}
    for facility in COUNTY:
        if closed_share(facility, as_of) > EXEMPT_CLOSED_SHARE:
            out[facility.id] = "EXEMPT"
        else:
            out[facility.id] = FLAGGING_PROFILES.get(profile(facility), "ACTIVE")
    return out


def env() -> dict[str, str]:
    """Our environment without FACMON_* (a developer's settings must not point the demo elsewhere), with the
    clock pinned (tests.conftest.TEST_NOW): "the last 28 days until now" are the same days at every run."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    return {**{k: v for k, v in os.environ.items() if not k.upper().startswith("FACMON_")}, "PATH": path,
            **pinned_env()}


def command(output: Path) -> list[str]:
    return [sys.executable, "-m", "facmon", "demo", "--output", str(output)]


def section(lines: list[str], title: str) -> list[str]:
    """The table rows under the line starting with `title` (after its column header), up to a blank line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    if "(0)" in lines[start]:
        return []
    assert lines[start + 1].startswith("FACILITY"), lines[start + 1]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def leftovers(marker: str) -> list[str]:
    """Processes whose command line names the demo's work directory or its ingester's client id."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines()[1:] if marker in line and "ps -ww" not in line]


@pytest.fixture(scope="module")
def servers_installed() -> None:
    try:
        require_binary("mosquitto")
        require_binary("influxd")
    except ServerUnavailable as exc:
        server_missing(exc)


@dataclass
class DemoRun:
    result: subprocess.CompletedProcess[str]
    output: Path
    lines: list[str]
    workdir: Path

    @property
    def analysis(self) -> dict:
        (path,) = self.output.glob("analysis-*.json")
        return json.loads(path.read_text(encoding="utf-8"))

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.analysis["as_of"])


@pytest.fixture(scope="module")
def demo(servers_installed: None, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    output = tmp_path_factory.mktemp("demo") / "out"
    result = subprocess.run(command(output), capture_output=True, text=True, env=env(), cwd=REPO, timeout=240,
                            check=False)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    match = WORKDIR.search(result.stdout)
    assert match, result.stdout
    return DemoRun(result, output, result.stdout.splitlines(), Path(match.group(1)))


def test_the_flagged_facilities_are_those_the_profiles_predict(demo: DemoRun) -> None:
    printed = {}
    for row in section(demo.lines, "Flagged facilities"):
        status = re.search(r"\s(IDLE|UNDERUSED|NO_DATA)\s", row)
        assert status, row
        printed[row.split()[0]] = status.group(1)
    expected = {fid: status for fid, status in expected_statuses(demo.as_of).items() if status in FLAGGED}
    assert printed == expected
    assert {"IDLE", "UNDERUSED", "NO_DATA"} <= set(printed.values())  # the county has each kind


def test_the_counts_and_the_exempt_facility_follow_the_county(demo: DemoRun) -> None:
    expected = expected_statuses(demo.as_of)
    counts = next(line for line in demo.lines if line.startswith("Counts: "))
    assert counts == "Counts: " + ", ".join(f"{list(expected.values()).count(s)} {s}" for s in STATUSES)
    exempt = {fid for fid, status in expected.items() if status == "EXEMPT"}
    assert exempt, "the county has a facility closed for most of the window"
    stored = {f["facility_id"]: f["status"] for f in demo.analysis["facilities"]}
    assert {fid for fid, status in stored.items() if status == "EXEMPT"} == exempt


def expected_suspects() -> set[str]:
    """The forged facilities, and the facility each copy (clone_of, forged_noisy_copy) copies: one series or one
    shape under two names, and nothing in the data tells which is the copy, so the check names both."""
    forged = {f.id for f in COUNTY if profile(f) in FORGED_PROFILES}
    sources = {str(f.simulation["source"]) for f in COUNTY if profile(f) in COPYING_PROFILES}
    return forged | sources


def test_the_suspect_table_lists_exactly_the_forged_facilities(demo: DemoRun) -> None:
    printed = {row.split()[0] for row in section(demo.lines, "Data that look forged")}
    assert printed == expected_suspects()
    suspect_in_json = {f["facility_id"] for f in demo.analysis["facilities"]
                       if (f.get("integrity") or {}).get("suspect") is True}
    assert printed == suspect_in_json


def test_it_prints_the_devices_short_version(demo: DemoRun) -> None:
    """The integrators' view (facmon devices, issue 17): every sensor of the county is counted."""
    at = demo.lines.index("Devices (facmon devices):")
    assert re.fullmatch(r"  \d+ sensors: \d+ on their heartbeat today, \d+ behind, \d+ offline, \d+ refused in "
                        r"24 h, \d+ revisions", demo.lines[at + 1]), demo.lines[at + 1]
    assert int(demo.lines[at + 1].split()[0]) > 0


def test_the_evidence_report_is_written_and_named(demo: DemoRun) -> None:
    html, xlsx = (demo.output / f"facmon-report-{demo.as_of.isoformat()}.{fmt}" for fmt in ("html", "xlsx"))
    assert f"  {html}" in demo.lines
    assert f"  {xlsx}" in demo.lines
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    flagged = [fid for fid, status in expected_statuses(demo.as_of).items() if status in FLAGGED]
    assert all(fid in text for fid in flagged)
    book = load_workbook(xlsx, read_only=True)
    try:
        cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row}
    finally:
        book.close()
    assert {f.id for f in COUNTY} <= cells


def test_it_says_how_to_see_the_dashboards(demo: DemoRun) -> None:
    assert "docker compose" in demo.result.stdout
    assert "http://localhost:3000" in demo.result.stdout
    assert "facmon dashboards check" in demo.result.stdout or "docker compose --profile" in demo.result.stdout


def test_nothing_it_started_is_left(demo: DemoRun) -> None:
    assert not demo.workdir.exists()
    assert leftovers(demo.workdir.name) == []
    pid = re.search(r"ingester running \(pid (\d+)", demo.result.stdout)
    assert pid, demo.result.stdout
    cmdline = Path(f"/proc/{pid.group(1)}/cmdline")
    assert not cmdline.exists() or demo.workdir.name not in cmdline.read_text(errors="replace")


def test_ctrl_c_while_backfilling_stops_everything(servers_installed: None, tmp_path: Path) -> None:
    process = subprocess.Popen(command(tmp_path / "out"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env(), cwd=REPO)
    try:
        seen = []
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if line.startswith("[2/7]"):
                break
        workdir = WORKDIR.search("".join(seen))
        assert workdir, "".join(seen)
        marker = Path(workdir.group(1)).name
        assert len(leftovers(marker)) >= 3  # Mosquitto, InfluxDB and the ingester are running now
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, errors
    assert "Interrupted" in rest
    assert leftovers(marker) == []
    assert not Path(workdir.group(1)).exists()
    assert not (tmp_path / "out").exists()  # interrupted before the report


def test_configured_servers_are_used_and_only_what_the_demo_made_is_removed(
    servers_installed: None, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    database, other = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    influxdb.query(f'CREATE DATABASE "{other}"')
    influxdb.write(other, "kept,facility=x value=1i 1700000000000000000\n")
    configured = {"FACMON_MQTT_URL": mosquitto.url, "FACMON_INFLUX_URL": influxdb.url, "FACMON_INFLUX_DB": database}
    result = subprocess.run(command(tmp_path / "out"), capture_output=True, text=True, env={**env(), **configured},
                            cwd=REPO, timeout=240, check=False)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert f"the broker of FACMON_MQTT_URL on {mosquitto.url}" in result.stdout
    assert f"the InfluxDB of FACMON_INFLUX_URL on {influxdb.url}, database {database}" in result.stdout
    assert mosquitto.running
    assert influxdb.running
    published = re.search(r"backfilled ([\d,]+) readings", result.stdout)
    assert published, result.stdout
    counts = influxdb.query('SELECT count("occupancy") FROM "reading"', db=database)["results"][0]["series"][0]
    assert counts["values"][0][1] == int(published.group(1).replace(",", ""))  # kept, to look at afterwards
    assert influxdb.query('SELECT * FROM "kept"', db=other)["results"][0]["series"][0]["values"]
    workdir = Path(WORKDIR.search(result.stdout).group(1))
    assert not workdir.exists()
    assert leftovers(workdir.name) == []
    assert not session_present(mosquitto, workdir.name)  # the ingester's persistent session is gone too


def session_present(broker: LocalMosquitto, client_id: str) -> bool:
    """Whether the broker still holds a persistent session for `client_id` (asked without cleaning it)."""
    answer: list[bool] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=False)
    client.on_connect = lambda c, u, flags, reason, p: answer.append(bool(flags.session_present))
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not answer and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    assert answer, "no CONNACK"
    return answer[0]


def test_the_ingesters_session_is_forgotten_after_it_stopped(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path
) -> None:
    from facmon.core.settings import load_settings
    from facmon.demo.stack import forget_session, ingester

    client_id = f"facmon-demo-{uuid.uuid4().hex[:8]}"
    settings = load_settings({"mqtt_url": mosquitto.url, "influx_url": influxdb.url, "influx_db": influx_db_name,
                              "registry": str(sample_county()), "mqtt_client_id": client_id,
                              "topic_prefix": f"t{uuid.uuid4().hex[:8]}/v1"})
    with ingester(tmp_path, settings) as process:
        assert process.running
    assert session_present(mosquitto, client_id)  # the ingester's session outlives it (and session_present kept it)
    assert forget_session(settings)
    assert not session_present(mosquitto, client_id)
    assert forget_session(settings)  # nothing left to forget is fine too
