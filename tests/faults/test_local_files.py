"""Faults on local files: the ingester keeps no state on disk, and the files it does touch fail cleanly.

The ingester's only durable state is the broker's session queue and InfluxDB (docs/reliability.md): it has no
spool, no offset file, no cache on disk. What it touches locally is the registry (read at start and on SIGHUP),
an optional FACMON_CONFIG file (read at start) and its log on stderr. These tests check exactly that: what it
opens and creates while working, a registry it may not read (permission denied, a directory, reload of a file
that became unreadable) and a log whose disk is full.

Tests run as root (as CI does), whose CAP_DAC_OVERRIDE ignores file permissions; the ingester is started without
it (drop_file_permission_override) so that chmod 000 means what it means for a service user.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from facmon.demo.localstack import LocalMosquitto
from tests.faults.streams import reading_topic
from tests.integration.ingester import (
    COMMUNITY,
    LIBRARY,
    REGISTRY_YAML,
    InfluxReader,
    IngesterFactory,
    IngesterProcess,
    drop_file_permission_override,
    now_ms,
    publisher,
    wait_until,
)

pytestmark = [pytest.mark.servers]

NEW_FACILITY = "wz-new-hall-9"
REGISTRY_WITH_NEW = REGISTRY_YAML + f"""\
  - id: {NEW_FACILITY}
    name: 新建礼堂
    type: cultural_hall
    region: zhejiang/wenzhou/ouhai
    capacity: 300
    opening_hours:
      sat: ["09:00-17:00"]
"""


def one_reading(mosquitto: LocalMosquitto, prefix: str, facility: str, sensor: str, ts: int) -> None:
    with publisher(mosquitto.host, mosquitto.port) as pub:
        pub.publish(reading_topic(prefix, facility, sensor), json.dumps({"ts": ts, "occupancy": 1}))


def open_files(pid: int) -> dict[int, tuple[str, int]]:
    """fd -> (target, open flags) of a process, from /proc."""
    files = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            flags = int(Path(f"/proc/{pid}/fdinfo/{fd}").read_text().split("flags:")[1].split()[0], 8)
        except (FileNotFoundError, IndexError):
            continue  # closed meanwhile
        files[int(fd)] = (target, flags)
    return files


def assert_exits_2_with_one_line(ingester: IngesterProcess, expected: str) -> None:
    ingester.preexec_fn = drop_file_permission_override
    ingester.start(wait_connected=False)
    code = ingester.wait_exit(20)
    output = ingester.run_log
    assert code == 2, output
    assert output.splitlines() == [expected], output
    assert "Traceback" not in output


# -- no local state -------------------------------------------------------------------------------------------------
def test_ingester_writes_no_local_file_but_its_log(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str, tmp_path: Path
) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    ingester = make_ingester({"HOME": str(home), "TMPDIR": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"})
    before = set(ingester.workdir.iterdir())
    ingester.start()
    base = now_ms() - 60_000
    with publisher(mosquitto.host, mosquitto.port) as pub:
        pub.publish_many(
            (reading_topic(prefix, LIBRARY, f"s{i % 5}"), json.dumps({"ts": base + i, "occupancy": i % 50}))
            for i in range(500)
        )
        pub.publish(reading_topic(prefix, LIBRARY, "s1"), b'{"ts": 1, "occupancy": -1}')  # a refusal too
    reader.wait_points("reading", 500, timeout=30)
    ingester.sighup()
    ingester.wait_for_log("registry reloaded")

    # While it works: no regular file open for writing except its stdout/stderr (the log the test gave it).
    writable = {
        fd: target
        for fd, (target, flags) in open_files(ingester.pid).items()
        if target.startswith("/") and not target.startswith("/dev/") and flags & (os.O_WRONLY | os.O_RDWR)
    }
    assert writable == {1: str(ingester.log_path), 2: str(ingester.log_path)}
    code, log = ingester.stop()
    assert code == 0, log

    assert set(ingester.workdir.iterdir()) == before | {ingester.log_path}
    assert list(home.iterdir()) == []
    assert list(tmp.iterdir()) == []


def test_full_disk_under_the_log_does_not_stop_ingesting(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str
) -> None:
    """stderr on /dev/full (every write fails with ENOSPC): logging fails silently, readings still flow."""
    ingester = make_ingester()
    ingester.output_path = Path("/dev/full")
    ingester.start(wait_connected=False)
    wait_until(lambda: reader.count("ingest_stats") > 0, timeout=20, what="the ingester's first counters point")
    ts = now_ms() - 1_000
    one_reading(mosquitto, prefix, COMMUNITY, "hall", ts)
    [point] = reader.wait_points("reading", 1)
    assert point["time"] == ts * 1_000_000
    assert ingester.running
    code, _ = ingester.stop()
    assert code == 0


# -- the registry -----------------------------------------------------------------------------------------------------
def test_unreadable_registry_stops_the_start_with_one_line(make_ingester: IngesterFactory) -> None:
    ingester = make_ingester()
    ingester.registry_path.chmod(0)
    assert_exits_2_with_one_line(
        ingester, f"facmon: {ingester.registry_path}: cannot read the file: Permission denied"
    )


def test_registry_that_is_a_directory_stops_the_start_with_one_line(make_ingester: IngesterFactory) -> None:
    ingester = make_ingester()
    ingester.registry_path.unlink()
    ingester.registry_path.mkdir()
    assert_exits_2_with_one_line(ingester, f"facmon: {ingester.registry_path}: cannot read the file: Is a directory")


def test_registry_in_an_unreadable_directory_stops_the_start_with_one_line(
    make_ingester: IngesterFactory, tmp_path: Path
) -> None:
    ingester = make_ingester()
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "registry.yaml").write_text(REGISTRY_YAML, encoding="utf-8")
    locked.chmod(0)
    ingester.env["FACMON_REGISTRY"] = str(locked / "registry.yaml")
    assert_exits_2_with_one_line(
        ingester, f"facmon: {locked / 'registry.yaml'}: cannot read the file: Permission denied"
    )


def test_sighup_with_an_unreadable_registry_keeps_the_old_one_and_runs_on(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str
) -> None:
    ingester = make_ingester()
    ingester.preexec_fn = drop_file_permission_override
    ingester.start()
    base = now_ms() - 10_000

    ingester.registry_path.write_text(REGISTRY_WITH_NEW, encoding="utf-8")
    ingester.registry_path.chmod(0)
    ingester.sighup()
    error = ingester.wait_for_log(r".*registry not reloaded.*").group(0)
    assert f"{ingester.registry_path}: cannot read the file: Permission denied" in error
    assert "Traceback" not in ingester.run_log
    assert ingester.running
    # The old registry is still in force: a known facility is stored, the new one is still unknown.
    one_reading(mosquitto, prefix, LIBRARY, "door-1", base)
    one_reading(mosquitto, prefix, NEW_FACILITY, "door-1", base + 1)
    [point] = reader.wait_points("reading", 1)
    assert point["facility"] == LIBRARY
    reader.wait_points("refusal", 1, where="reason = 'unknown_facility'")

    # Readable again: the next SIGHUP loads it.
    ingester.registry_path.chmod(0o644)
    ingester.sighup()
    ingester.wait_for_log("registry reloaded: 3 facilities")
    one_reading(mosquitto, prefix, NEW_FACILITY, "door-1", base + 2)
    points = reader.wait_points("reading", 2)
    assert {p["facility"] for p in points} == {LIBRARY, NEW_FACILITY}
    code, log = ingester.stop()
    assert code == 0, log


def test_sighup_with_a_registry_replaced_by_a_directory_keeps_running(make_ingester: IngesterFactory) -> None:
    ingester = make_ingester()
    ingester.start()
    ingester.registry_path.unlink()
    ingester.registry_path.mkdir()
    ingester.sighup()
    error = ingester.wait_for_log(r".*registry not reloaded.*").group(0)
    assert "cannot read the file: Is a directory" in error
    ingester.wait_for_log(r"counters ")
    assert ingester.running
    code, log = ingester.stop()
    assert code == 0, log
    assert "Traceback" not in log

