"""Give each service test a fresh consortium store of each backend (tests.support.consortium)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.consortium import Consortium


@pytest.fixture
def consortium(store_url: str) -> Iterator[Consortium]:
    """Yield an empty consortium in a migrated store, closed after the test."""
    made = Consortium(store_url)
    yield made
    made.close()
