"""`python -m facmon`: the `facmon` command, run from its own module so that nothing is loaded twice."""

from __future__ import annotations

import sys


def main() -> int:
    from facmon.cli.main import main as facmon

    return facmon()


if __name__ == "__main__":
    sys.exit(main())
