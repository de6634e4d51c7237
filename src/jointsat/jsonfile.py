"""Read typed values out of decoded JSON documents, naming the field that is wrong.

The problem files of the scheduler and the planner, and the requests, are read with
it; each reader raises its own kind of :class:`~jointsat.errors.InputError`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from jointsat.errors import InputError
from jointsat.timelib import read_iso

# --- what every store can hold ---------------------------------------------------------
#
# PostgreSQL refuses a NUL character in text; neither store can hold a lone surrogate
# (it is not UTF-8), nor NaN or an infinity in a JSON column (nor can a reader parse
# it back). The service and the archive's metadata reader refuse them at the boundary.

MAX_ROW_ID = 2_147_483_647
"""The largest row id: ids are 32-bit integers in every store."""


def storable_text(value: str) -> str:
    """Return ``value`` if every store can hold it: no NUL, no lone surrogate (ValueError)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"character {exc.start} is a lone surrogate, not text") from None
    return value


def storable_json(value: Any, where: str = "") -> Any:
    """Return a JSON value if every store can hold it: finite numbers, storable text (keys too).

    Raises ``ValueError`` naming the place (``a.b[2]``) of the first bad value.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'}: {value} is not a finite number")
    if isinstance(value, str):
        try:
            storable_text(value)
        except ValueError as exc:
            raise ValueError(f"{where or 'value'}: {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where or 'value'}: keys must be text")
            storable_json(key, f"{where}.{key}" if where else key)
            storable_json(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            storable_json(item, f"{where}[{index}]")
    return value


def load_json(text: str, error: type[InputError], source: str, invalid: str) -> Any:
    """Return the decoded JSON text, or raise ``error`` naming the line and column that is not.

    ``invalid`` opens the error's reason (each reader words it its own way).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{invalid}: {exc.msg} (column {exc.colno})",
            source=source,
            location=f"line {exc.lineno}",
        ) from None


class Reader:
    """Read typed values out of a decoded JSON document, naming the field on error."""

    def __init__(self, source: str, error: type[InputError]) -> None:
        self.source = source
        self.kind = error

    def json(self, text: str) -> Any:
        """Return the decoded JSON text, or raise naming the line that is not JSON."""
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise self.error(f"not valid JSON: {error.msg}", f"line {error.lineno}") from None

    def error(self, reason: str, where: str) -> InputError:
        """Return the error to raise for a field: its source, location and reason."""
        return self.kind(reason, source=self.source, location=where)

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error("must be an object", where)
        return value

    def sequence(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error("must be a list", where)
        return value

    def items(self, root: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
        values = self.sequence(self.key(root, name, "the document"), name)
        return [(i, self.mapping(v, f"{name}[{i}]")) for i, v in enumerate(values)]

    def key(self, value: dict[str, Any], name: str, where: str, *, alias: str = "") -> Any:
        if name in value:
            return value[name]
        if alias and alias in value:
            return value[alias]
        also = f" (or {alias!r})" if alias else ""
        raise self.error(f"missing {name!r}{also}", where)

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            raise self.error("must be a non-empty string", where)
        return str(value)

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"must be a number, got {value!r}", where)
        if isinstance(value, float) and math.isinf(value):
            raise self.error("must be finite", where)
        return float(value)

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be an integer, got {value!r}", where)
        return value

    def fractions(self, value: Any, where: str) -> dict[str, float]:
        found = self.mapping(value, where)
        return {str(k): self.number(v, f"{where}.{k}") for k, v in found.items()}

    def time(self, value: Any, where: str) -> datetime:
        if not isinstance(value, str):
            raise self.error(
                "must be an ISO 8601 time with a zone, such as 2024-05-10T00:00:00Z", where
            )
        try:
            moment = read_iso(value, verbatim=True)
        except ValueError:
            raise self.error(f"not an ISO 8601 time: {value!r}", where) from None
        if moment.tzinfo is None:
            raise self.error(f"{value!r} has no time zone; add Z for UTC", where)
        return moment.astimezone(UTC)

    def span(self, value: Any, where: str) -> tuple[datetime, datetime]:
        """Return the ``start`` and ``end`` of an object, end after start."""
        found = self.mapping(value, where)
        start = self.time(self.key(found, "start", where), f"{where}.start")
        end = self.time(self.key(found, "end", where), f"{where}.end")
        if end <= start:
            raise self.error("end must be after start", where)
        return start, end


class JsonDocument:
    """A value read from a JSON document: ``from_json`` decodes the text for ``from_dict``.

    A subclass names the kind of :class:`~jointsat.errors.InputError` it raises
    (``input_error``) and builds itself from the decoded document (``from_dict``).
    """

    input_error: ClassVar[type[InputError]]

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "<string>") -> Self:
        """Build the value from a decoded JSON document."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> Self:
        """Read the value from its JSON text, refusing bad input with the field named."""
        return cls.from_dict(Reader(source, cls.input_error).json(text), source=source)
