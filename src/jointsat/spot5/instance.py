"""Read CNES's SPOT5 daily photograph selection instances and check answers.

The format (Bensana, Lemaitre, Verfaillie 1999; ../shared/data/spot5/FORMAT.md): photos
with a gain and a domain of values (1, 2, 3: the front, middle, rear instrument of a
mono image; 13: a stereo image), each value with a recorder consumption; hard
constraints listing forbidden value tuples, binding only when all their photos are
selected; for multi-orbit instances, a recorder capacity. Answers: photo id -> value.

The recorder is read in the normalized units the published best values use: a value
consumes round(consumption / 451) units and the capacity is 200 units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jointsat.errors import Spot5Error

RECORDER_UNIT = 451.0  # raw consumption per normalized unit (451.15 per mono image)
RECORDER_CAPACITY_UNITS = 200
STEREO = 13


@dataclass(frozen=True)
class Photo:
    """A candidate photograph: its gain and, per possible value, the recorder it consumes."""

    id: int
    gain: int
    values: tuple[int, ...]
    consumption: tuple[float, ...]  # raw, one per value

    def units(self, value: int) -> int:
        """Return the normalized recorder units the photo takes with this value."""
        return round(self.consumption[self.values.index(value)] / RECORDER_UNIT)


@dataclass(frozen=True)
class Constraint:
    """Value tuples the listed photos may not take together (if all are selected)."""

    photos: tuple[int, ...]
    forbidden: frozenset[tuple[int, ...]]


@dataclass(frozen=True)
class Spot5:
    """One SPOT5 instance."""

    name: str
    photos: tuple[Photo, ...]
    constraints: tuple[Constraint, ...]
    capacity_units: int | None  # None: a single-orbit instance, no recorder limit

    @property
    def by_id(self) -> dict[int, Photo]:
        """Return the photos by id."""
        return {p.id: p for p in self.photos}


def read_spot5(text: str, *, source: str = "<string>") -> Spot5:
    """Read a SPOT5 instance (CRLF line ends, blank lines and extra photo fields allowed)."""
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    position = 0

    def take() -> tuple[int, list[str]]:
        nonlocal position
        if position >= len(lines):
            raise Spot5Error("the file ends too early", source=source)
        found = lines[position]
        position += 1
        return found

    def integer(token: str, n: int, what: str) -> int:
        try:
            return int(token)
        except ValueError:
            raise Spot5Error(
                f"{what} {token!r} is not an integer", source=source, location=f"line {n}"
            ) from None

    n, header = take()
    photos = []
    for _ in range(integer(header[0], n, "the photo count")):
        n, fields = take()
        if len(fields) < 3:
            raise Spot5Error(
                "a photo needs id, gain and domain size", source=source, location=f"line {n}"
            )
        size = integer(fields[2], n, "the domain size")
        pairs = fields[3 : 3 + 2 * size]
        if len(pairs) < 2 * size:
            raise Spot5Error(
                f"the photo lists fewer than {size} values", source=source, location=f"line {n}"
            )
        try:
            consumption = tuple(float(c) for c in pairs[1::2])
        except ValueError:
            raise Spot5Error(
                "a consumption is not a number", source=source, location=f"line {n}"
            ) from None
        photos.append(
            Photo(
                id=integer(fields[0], n, "the photo id"),
                gain=integer(fields[1], n, "the gain"),
                values=tuple(integer(v, n, "a value") for v in pairs[0::2]),
                consumption=consumption,
            )
        )
    n, header = take()
    count = integer(header[0], n, "the constraint count")
    constraints = []
    capacity = None
    for k in range(count):
        n, fields = take()
        if k == count - 1 and len(fields) == 1:  # multi-orbit: the count includes the capacity
            capacity = RECORDER_CAPACITY_UNITS
            break
        arity = integer(fields[0], n, "the arity")
        numbers = [integer(f, n, "a constraint field") for f in fields[1:]]
        ids, rest = tuple(numbers[:arity]), numbers[arity:]
        if arity not in (1, 2, 3) or len(ids) < arity or len(rest) % arity:
            raise Spot5Error(
                "a constraint's tuples do not match its arity", source=source, location=f"line {n}"
            )
        constraints.append(
            Constraint(
                ids, frozenset(tuple(rest[i : i + arity]) for i in range(0, len(rest), arity))
            )
        )
    known = {p.id for p in photos}
    for c in constraints:
        if not set(c.photos) <= known:
            raise Spot5Error(
                f"a constraint names unknown photos {sorted(set(c.photos) - known)}", source=source
            )
    return Spot5(source, tuple(photos), tuple(constraints), capacity)


def check(instance: Spot5, answer: Mapping[int, int]) -> list[str]:
    """Return every rule an answer (photo id -> value) breaks; none when it is valid."""
    problems = []
    photos = instance.by_id
    for photo, value in answer.items():
        if photo not in photos:
            problems.append(f"photo {photo} is not in the instance")
        elif value not in photos[photo].values:
            problems.append(f"photo {photo} cannot take value {value}")
    for c in instance.constraints:
        if all(p in answer for p in c.photos):
            chosen = tuple(answer[p] for p in c.photos)
            if chosen in c.forbidden:
                problems.append(f"photos {c.photos} may not take values {chosen} together")
    if instance.capacity_units is not None:
        used = sum(
            photos[p].units(v) for p, v in answer.items() if p in photos and v in photos[p].values
        )
        if used > instance.capacity_units:
            problems.append(
                f"the recorder holds {instance.capacity_units} units, the answer needs {used}"
            )
    return problems


def gain(instance: Spot5, answer: Mapping[int, int]) -> int:
    """Return the total gain of the selected photos."""
    photos = instance.by_id
    return sum(photos[p].gain for p in answer if p in photos)


def format_answer(answer: Mapping[int, int]) -> str:
    """Return an answer as lines ``photo_id value``, one per selected photo, by id."""
    return "".join(f"{p} {answer[p]}\n" for p in sorted(answer))
