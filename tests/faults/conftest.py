"""Fixtures of the fault-injection suite: ingesters of each test's own on the session (or a fresh) broker/InfluxDB.

`make_ingester` and `reader` are the end-to-end tests' own (tests/integration/ingester.py); this suite only
gives them a topic prefix of its own.
"""

from __future__ import annotations

import pytest

from tests.integration.ingester import make_ingester, reader, unique

__all__ = ["make_ingester", "reader"]  # fixtures used by name


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: the session broker carries other tests' messages too."""
    return unique("f") + "/v1"
