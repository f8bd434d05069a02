"""Fuzz the ingester's handling of one MQTT message: parse, line protocol, refusal notice. Run it for as long as
you like; the CI runs only a smoke test of it (tests/faults/test_fuzz_harness.py).

The first input byte picks a topic (a reading or status topic of a known facility, an unknown facility, a bad
topic), the rest is the payload. For every input:
- MessageParser.parse must not raise, and must answer (readings, a status change, refusals, or "ignored");
- the fast (orjson) and exact (standard library) decoders must give the same answer;
- every accepted reading is within the contract (counts 0-100,000, seq 0-2^63-1, ts within the age window);
- every line of line protocol the ingester would write is one line, with only the documented measurement, tag
  keys and field keys (docs/schema.md), the registry's values in tags, and a timestamp;
- every refusal notice is valid JSON with the documented keys.

With atheris (coverage-guided; `pip install atheris` or `pip install -e '.[fuzz]'`):

    python bench/fuzz_parse.py -max_total_time=3600 /tmp/facmon-fuzz     # libFuzzer flags; corpus dir seeded
    python bench/fuzz_parse.py -runs=100000                              # a fixed number of inputs

Without atheris (Hypothesis, random and shrinking, no coverage guidance):

    python bench/fuzz_parse.py --hypothesis --examples 1000000

A crash prints the input (atheris also writes it to crash-<sha1>); replay one with
`python bench/fuzz_parse.py --replay crash-<sha1>`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PREFIX = "facmon/v1"
CAPACITIES = {"wz-lc-lib-001": 120, "wz-oh-comm-003": 60}
FACILITY_TAGS = {
    "wz-lc-lib-001": {"type": "library", "region": "zhejiang/wenzhou/lucheng"},
    "wz-oh-comm-003": {"type": "community_center", "region": "zhejiang/wenzhou/ouhai"},
}
TOPICS = [
    f"{PREFIX}/wz-lc-lib-001/door-1/reading",
    f"{PREFIX}/wz-oh-comm-003/hall/reading",
    f"{PREFIX}/wz-lc-lib-001/door-1/status",
    f"{PREFIX}/wz-nowhere-9/door-1/reading",
    f"{PREFIX}/wz-lc-lib-001/Door 1/reading",
    f"{PREFIX}/wz-lc-lib-001/door-1/rejected",
    f"{PREFIX}/wz-lc-lib-001",
]
NOW_NS = 1_764_000_000 * 1_000_000_000  # 2025-11-24T16:00:00Z
MAX_AGE_S = 35 * 86_400
#: docs/schema.md
SCHEMA = {
    "reading": ({"facility", "sensor", "type", "region"},
                {"occupancy", "entries", "exits", "uses", "seq", "over_capacity", "arrival_delay_ms", "received_ms"}),
    "sensor_status": ({"facility", "sensor"}, {"online"}),
    "refusal": ({"reason", "facility"}, {"count", "sensor", "path", "unknown_facility"}),
}
NOTICE_KEYS = {"reason", "detail", "path", "topic", "received", "payload"}
OPTIONAL_NOTICE_KEYS = {"errors", "ts", "refused", "reasons", "refusals"}  # every problem, the decoded ts, a summary
SEEDS = [
    b'{"ts": "2025-11-24T23:45:00+08:00", "occupancy": 3, "entries": 1, "exits": 0, "seq": 7}',
    b'[{"ts": 1763990000, "occupancy": 3}, {"ts": 1763990000123, "uses": 2}, {"ts": 1763990001.5, "entries": 0}]',
    b'{"ts": 1763990000, "occupancy": 121}',
    b'{"ts": "2025-11-24T15:00:00Z", "occupancy": 1, "occupancy": 2}',
    b'{"ts": 1763990000, "occupancy": 3.0}',
    b'{"ts": NaN, "occupancy": 1}',
    b'{"ts": 1763990000, "occupancy": 1, "x\\n,y=1": 2}',
    b'[[[[[[[[]]]]]]]]',
    b"online",
    b"\xff\xfe",
    b"",
]


def load_targets(instrument: bool) -> dict[str, Any]:
    """Import the code under test, instrumented for coverage when atheris drives it."""
    if instrument:
        import atheris

        with atheris.instrument_imports(include=["sensors", "ingest"]):
            return _imports()
    return _imports()


def _imports() -> dict[str, Any]:
    from ingest.pipeline import Pipeline
    from ingest.points import ReadingEncoder, refusal_line, status_line
    from sensors.attribution import route
    from sensors.contract import MAX_COUNT, MAX_FUTURE_SECONDS, MAX_SEQ, TopicGrammar
    from sensors.parse import MessageParser

    class ExactOnly(MessageParser):
        def _fast_items(self, payload: bytes) -> None:
            return None

    grammar = TopicGrammar(PREFIX)
    fast = MessageParser(grammar, CAPACITIES, MAX_AGE_S)
    pipeline = Pipeline(fast, ReadingEncoder(FACILITY_TAGS), lambda body: None, lambda tokens: None,
                        lambda topic, body: None, batch_size=1000, flush_interval=1.0)
    return {
        "fast": fast,
        "exact": ExactOnly(grammar, CAPACITIES, MAX_AGE_S),
        "encoder": ReadingEncoder(FACILITY_TAGS),
        "refusal_line": refusal_line,
        "status_line": status_line,
        "notice": lambda topic, payload, refusal, now: (
            route(grammar, topic, refusal, CAPACITIES).topic, pipeline._notice(topic, payload, refusal, now)),
        "limits": (MAX_COUNT, MAX_SEQ, MAX_FUTURE_SECONDS),
    }


_UNESCAPED = {" ": re.compile(r"(?<!\\) "), ",": re.compile(r"(?<!\\),"), "=": re.compile(r"(?<!\\)=")}


def split_line(text: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """A line of facmon's line protocol as (measurement, tags, fields, ts); AssertionError if it is not one."""
    assert "\n" not in text
    assert "\r" not in text
    series, rest = _UNESCAPED[" "].split(text, maxsplit=1)
    measurement, *tag_parts = _UNESCAPED[","].split(series)
    tags = dict(_UNESCAPED["="].split(part, maxsplit=1) for part in tag_parts)
    body, ts = rest.rsplit(" ", 1)
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(body):  # key=value pairs; a string value is quoted, with \" and \\ escaped
        key_end = body.index("=", pos)
        key = body[pos:key_end]
        pos = key_end + 1
        if body[pos] == '"':
            end = pos + 1
            while body[end] != '"':
                end += 2 if body[end] == "\\" else 1
            fields[key], pos = body[pos : end + 1], end + 2
        else:
            end = body.find(",", pos)
            end = len(body) if end < 0 else end
            fields[key], pos = body[pos:end], end + 1
    return measurement, tags, fields, int(ts)


def check_line(text: str, targets: dict[str, Any]) -> None:
    measurement, tags, fields, _ = split_line(text)
    tag_keys, field_keys = SCHEMA[measurement]
    assert set(tags) <= tag_keys, (text, tags)
    assert set(fields) <= field_keys, (text, fields)
    if "facility" in tags:
        assert tags["facility"] in CAPACITIES, text
    for key in ("type", "region"):
        if key in tags:
            assert tags[key] == FACILITY_TAGS[tags["facility"]][key], text


def check_one(data: bytes, targets: dict[str, Any]) -> None:
    """Everything the module docstring promises, for one input; AssertionError (or any exception) is a find."""
    topic = TOPICS[data[0] % len(TOPICS)] if data else TOPICS[0]
    payload = data[1:]
    parsed = targets["fast"].parse(topic, payload, NOW_NS)
    exact = targets["exact"].parse(topic, payload, NOW_NS)
    assert parsed == exact, (topic, payload, parsed, exact)
    answered = parsed.ignored or parsed.status is not None or parsed.readings or parsed.refusals
    assert answered, (topic, payload)
    max_count, max_seq, max_future = targets["limits"]
    for reading in parsed.readings:
        for name in ("occupancy", "entries", "exits", "uses"):
            value = getattr(reading, name)
            assert value is None or (type(value) is int and 0 <= value <= max_count), reading
        assert reading.seq is None or (type(reading.seq) is int and 0 <= reading.seq <= max_seq), reading
        assert NOW_NS - MAX_AGE_S * 1_000_000_000 <= reading.ts_ns <= NOW_NS + max_future * 1_000_000_000, reading
        check_line(targets["encoder"].reading(reading), targets)
    if parsed.status is not None:
        check_line(targets["status_line"](parsed.status), targets)
    for offset, refusal in enumerate(parsed.refusals):
        known = refusal.facility is not None and refusal.facility in CAPACITIES
        check_line(targets["refusal_line"](refusal, known, NOW_NS + offset), targets)
        notice_topic, body = targets["notice"](topic, payload, refusal, NOW_NS)
        notice = json.loads(body)
        assert NOTICE_KEYS <= set(notice) <= NOTICE_KEYS | OPTIONAL_NOTICE_KEYS, notice
        assert notice["reason"] == refusal.reason.value
        assert notice_topic.startswith(PREFIX + "/"), notice_topic


def seed_corpus(directory: Path) -> None:
    """Give an empty corpus directory the seeds, one per topic kind, so coverage starts from real shapes."""
    if directory.is_dir() and not any(directory.iterdir()):
        for n, seed in enumerate(SEEDS):
            for t in range(len(TOPICS)):
                (directory / f"seed-{n:02d}-{t}").write_bytes(bytes([t]) + seed)


def run_atheris(argv: list[str]) -> None:
    import atheris

    targets = load_targets(instrument=True)
    for arg in argv[1:]:
        if not arg.startswith("-"):
            Path(arg).mkdir(parents=True, exist_ok=True)
            seed_corpus(Path(arg))
    atheris.Setup(argv, lambda data: check_one(data, targets))
    atheris.Fuzz()


def run_hypothesis(examples: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    targets = load_targets(instrument=False)
    for seed in SEEDS:
        for t in range(len(TOPICS)):
            check_one(bytes([t]) + seed, targets)
    json_like = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(
            st.sampled_from(["ts", "occupancy", "entries", "exits", "uses", "seq", "x"]) | st.text(max_size=5),
            children, max_size=6),
        max_leaves=20,
    )
    payloads = st.binary(max_size=300) | json_like.map(lambda v: json.dumps(v).encode()) | st.sampled_from(SEEDS)

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(topic=st.integers(0, len(TOPICS) - 1), payload=payloads)
    def fuzz(topic: int, payload: bytes) -> None:
        check_one(bytes([topic]) + payload, targets)

    fuzz()
    print(f"fuzz_parse: {examples} Hypothesis examples and {len(SEEDS) * len(TOPICS)} seeds passed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--hypothesis", action="store_true", help="use Hypothesis instead of atheris")
    parser.add_argument("--examples", type=int, default=100_000, help="Hypothesis examples")
    parser.add_argument("--replay", type=Path, help="run one saved input and report")
    parser.add_argument("-h", "--help", action="store_true")
    args, rest = parser.parse_known_args()
    if args.help:
        print(__doc__)
        return
    if args.replay:
        check_one(args.replay.read_bytes(), load_targets(instrument=False))
        print(f"{args.replay}: passes")
        return
    try:
        import atheris  # noqa: F401
    except ImportError:
        if not args.hypothesis:
            print("atheris is not installed (pip install atheris); using Hypothesis", file=sys.stderr)
        args.hypothesis = True
    if args.hypothesis:
        run_hypothesis(args.examples)
    else:
        run_atheris([sys.argv[0], *rest])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
