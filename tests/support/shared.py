"""Share one world between a module's tests that leave its store as they found it.

Building a consortium, and the service over it, costs a test more than what it checks
when all it does is read, or send what the service must refuse. Such tests take the
world from a ``SharedWorld`` (one per module and backend, held by a module-scoped
fixture): it is built at first use, and after each test the store's revision, which
every write bumps in its transaction (``jointsat.store.database``), must be where it
was. A test that changed the store fails, and the next test gets a world built anew,
so no test ever sees another's writes.

Writes that bump no revision (audit entries, tokens: ``no_revision`` tables) escape
the check: a test that reads those, or counts them, has a world of its own. What else
a world keeps (its archive's files) joins the check through ``state``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

import pytest
from tests.support.consortium import Consortium

from jointsat.store.database import store_revision

W = TypeVar("W", bound=Consortium)


def revision(world: Consortium) -> int:
    """Return the revision of the world's store."""
    with world.sessions() as session:
        return store_revision(session)


class SharedWorld(Generic[W]):
    """A world built at first use and kept while the tests using it change nothing."""

    def __init__(self, make: Callable[[], W], state: Callable[[W], Hashable] | None = None) -> None:
        """``make`` builds the world; ``state``, what besides the store must stay as it was."""
        self._make = make
        self._state = state
        self._world: W | None = None

    def _seen(self, world: W) -> tuple[int, Hashable]:
        return revision(world), None if self._state is None else self._state(world)

    @contextmanager
    def use(self) -> Iterator[W]:
        """Yield the world; fail the test, and drop the world, if its store changed."""
        if self._world is None:
            self._world = self._make()
        world = self._world
        before = self._seen(world)
        yield world
        after = self._seen(world)
        if after != before:
            self.close()
            pytest.fail(
                f"the test changed the shared world (revision and state {before} -> {after}); "
                "a test that writes needs a world of its own"
            )

    def close(self) -> None:
        """Close the world (the next ``use`` builds another)."""
        if self._world is not None:
            self._world.close()
            self._world = None
