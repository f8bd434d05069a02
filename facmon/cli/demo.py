"""`facmon demo` (`make demo`): the command-line side of facmon.demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from facmon.cli.common import NOW_HELP, instant


def cmd_demo(args: argparse.Namespace) -> int:
    from facmon.demo.run import run_demo

    return run_demo(output=args.output, keep_running=args.keep_running, now=args.now)


def register(subparsers: Any) -> None:
    """Add `demo` to facmon's parser."""
    demo = subparsers.add_parser(
        "demo", help="the sample county's last 28 days through the whole system, then stop (`make demo`)",
        description="Start Mosquitto and InfluxDB in a temporary directory (or use those of FACMON_MQTT_URL and "
                    "FACMON_INFLUX_URL), the ingester, backfill facmon/resources/county.yaml, analyze it, print the "
                    "flagged facilities, write the evidence report, and stop everything.")
    demo.add_argument("--output", type=Path, metavar="DIR", help="where the report goes (default ./demo-output)")
    demo.add_argument("--keep-running", action="store_true", help="keep the stack up until Ctrl-C")
    demo.add_argument("--now", type=instant, metavar="INSTANT", help=NOW_HELP)
    demo.set_defaults(handler=cmd_demo)
