"""Check who sees partners' areas of interest and the design studies derived from them.

The area rule is written out cell by cell from the issue's words (admin, owner,
consortium member, public x private, consortium); the study rule is checked on every
study of up to three areas against the words "sees every area it used", and by
hypothesis for the properties that keep hidden areas hidden.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from jointsat.archive.rights import (
    AREA_CONSORTIUM,
    AREA_PRIVATE,
    AREA_VISIBILITIES,
    Caller,
    sees_area,
    sees_study,
)

ADMIN, ESA, DLR, PUBLIC = Caller(admin=True), Caller(1), Caller(2), Caller.public()
CALLERS = {"admin": ADMIN, "esa": ESA, "dlr": DLR, "public": PUBLIC}
AREAS = [(owner, v) for owner in (1, 2) for v in AREA_VISIBILITIES]

# (caller, owner, visibility) -> sees; written from the rule's words, not from the code.
AREA_TABLE = {
    ("admin", 1, AREA_PRIVATE): True,
    ("admin", 1, AREA_CONSORTIUM): True,
    ("admin", 2, AREA_PRIVATE): True,
    ("admin", 2, AREA_CONSORTIUM): True,
    ("esa", 1, AREA_PRIVATE): True,  # its own
    ("esa", 1, AREA_CONSORTIUM): True,
    ("esa", 2, AREA_PRIVATE): False,  # another partner's private area
    ("esa", 2, AREA_CONSORTIUM): True,
    ("dlr", 1, AREA_PRIVATE): False,
    ("dlr", 1, AREA_CONSORTIUM): True,
    ("dlr", 2, AREA_PRIVATE): True,
    ("dlr", 2, AREA_CONSORTIUM): True,
    ("public", 1, AREA_PRIVATE): False,  # design is for members only
    ("public", 1, AREA_CONSORTIUM): False,
    ("public", 2, AREA_PRIVATE): False,
    ("public", 2, AREA_CONSORTIUM): False,
}


def test_every_cell_of_the_area_table() -> None:
    assert len(AREA_TABLE) == len(CALLERS) * len(AREAS)
    got = {(name, owner, v): sees_area(CALLERS[name], owner, v) for name, owner, v in AREA_TABLE}
    assert got == AREA_TABLE


def test_an_unknown_visibility_hides_the_area_from_all_but_admin_and_owner() -> None:
    assert sees_area(ADMIN, 2, "public")
    assert sees_area(DLR, 2, "public")
    assert not sees_area(ESA, 2, "public")
    assert not sees_area(ESA, 2, "")


def test_a_study_is_seen_exactly_when_every_area_it_used_is() -> None:
    """Every study of one to three areas (with repeats), for every caller."""
    checked = 0
    for name, caller in CALLERS.items():
        seen = {(o, v) for (n, o, v), ok in AREA_TABLE.items() if n == name and ok}
        for size in (1, 2, 3):
            for used in itertools.product(AREAS, repeat=size):
                assert sees_study(caller, used) == set(used).issubset(seen), (name, used)
                checked += 1
    assert checked == len(CALLERS) * sum(len(AREAS) ** k for k in (1, 2, 3))


def test_a_study_without_areas_is_the_admins_only() -> None:
    assert sees_study(ADMIN, [])
    assert not any(sees_study(c, []) for c in (ESA, DLR, PUBLIC))


callers = st.sampled_from([ADMIN, PUBLIC, *(Caller(p) for p in range(1, 5))])
areas = st.tuples(st.integers(1, 4), st.sampled_from([*AREA_VISIBILITIES, "other"]))


@given(callers, st.lists(areas, min_size=1, max_size=6), areas)
def test_adding_an_area_never_reveals_a_study(
    caller: Caller, used: list[tuple[int, str]], more: tuple[int, str]
) -> None:
    if not sees_study(caller, used):
        assert not sees_study(caller, [*used, more])
    assert sees_study(caller, [*used, more]) == (
        sees_study(caller, used) and sees_area(caller, *more)
    )


@given(callers, st.lists(areas, min_size=1, max_size=6), st.randoms())
def test_the_order_of_the_areas_does_not_matter(
    caller: Caller, used: list[tuple[int, str]], shuffle: object
) -> None:
    again = list(used)
    shuffle.shuffle(again)  # type: ignore[attr-defined]
    assert sees_study(caller, again) == sees_study(caller, used)
    assert sees_study(caller, used[:1]) == sees_area(caller, *used[0])
