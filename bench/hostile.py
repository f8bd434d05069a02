"""Hostile-integrator benchmark (issue 19): the ingester's peak memory under each attack, at the issue's full size.

Each attack runs against a fresh ingester on its own topic prefix (real Mosquitto and InfluxDB): queued in its
session while it is stopped, then drained at once, which is the worst case for memory. Prints, per attack, the
ingester's peak resident memory (VmHWM), what it counted, and the target (<= 150 MiB).

    python bench/hostile.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import COMMUNITY, LIBRARY, IngesterProcess, StreamPublisher, wait_until

TARGET_MIB = 150
Messages = list[tuple[str, bytes]]


def long_topics(prefix: str) -> Messages:
    """5,000 new topics of 60 KB each."""
    return [(f"{prefix}/{LIBRARY}/{i:05d}{'x' * 60_000}/reading", b'{"ts": 1, "occupancy": 1}') for i in range(5000)]


def empty_batches(prefix: str) -> Messages:
    """200 messages of [{} x 1000]."""
    return [(f"{prefix}/{LIBRARY}/door-1/reading", b"[" + b",".join([b"{}"] * 1000) + b"]")] * 200


def invented_sensors(prefix: str) -> Messages:
    """20,000 invented sensor ids."""
    base = time.time_ns() // 1_000_000 - 3_600_000
    return [
        (f"{prefix}/{(LIBRARY, COMMUNITY)[i % 2]}/fake-{i}/reading", json.dumps({"ts": base + i, "uses": 1}).encode())
        for i in range(20_000)
    ]


ATTACKS: dict[str, Callable[[str], Messages]] = {
    "5,000 new 60 KB topics": long_topics,
    "200 x [{} x 1000]": empty_batches,
    "20,000 invented sensor ids": invented_sensors,
}


def run(name: str, make: Callable[[str], Messages], mosquitto: LocalMosquitto, influx: LocalInfluxDB,
        workdir: Path) -> float:
    prefix = f"h{abs(hash(name)) % 10**8}/v1"
    ingester = IngesterProcess(workdir / prefix.replace("/", "-"), mqtt_url=mosquitto.url, influx_url=influx.url,
                               influx_db="bench_hostile", topic_prefix=prefix, env={"FACMON_STATS_INTERVAL": "0.5"})
    ingester.start()
    ingester.stop()
    messages = make(prefix)
    StreamPublisher(mosquitto.host, mosquitto.port, messages).start().join(600)
    started = time.monotonic()
    ingester.start()
    try:
        wait_until(lambda: " counters " in ingester.run_log and ingester.counter("received") >= len(messages)
                   and ingester.counter("pending") == 0, timeout=600, interval=0.5, what=name)
        peak = ingester.memory_kib()["VmHWM"] / 1024
        counters = ingester.last_counters()
        print(f"{name:28} peak {peak:6.1f} MiB   drained in {time.monotonic() - started:5.1f} s   "
              f"written {counters['written']}, refused {ingester.refused_counts()}, "
              f"notices dropped {counters['notices_dropped']}")
        return peak
    finally:
        ingester.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="facmon-hostile-") as tmp:
        workdir = Path(tmp)
        with LocalMosquitto(workdir / "mosquitto", persistence=False) as mosquitto, \
                LocalInfluxDB(workdir / "influxdb") as influx:
            peaks = [run(name, make, mosquitto, influx, workdir) for name, make in ATTACKS.items()]
    worst = max(peaks)
    print(f"worst peak {worst:.1f} MiB (target <= {TARGET_MIB}: {'met' if worst <= TARGET_MIB else 'MISSED'})")


if __name__ == "__main__":
    main()
