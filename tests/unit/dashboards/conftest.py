from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.logstate import kept_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with kept_logging(clear=True):
        yield
