"""The `facmon` parser: building it must stay cheap, because every command (the ingester too) pays for it."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_parser_loads_no_analytics_libraries() -> None:
    code = (
        "import sys\n"
        "from facmon.cli.main import build_parser\n"
        "build_parser().parse_args(['ingest'])\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'openpyxl') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
