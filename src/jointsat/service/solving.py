"""Hold what schedules and plans share: the time limit, the evidence, a refusal's answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, Field, model_validator

from jointsat.errors import JointsatError
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import Number, TimeWindow

MAX_TIME_LIMIT_S = 300.0
TimeLimit = Annotated[Number, Field(default=30.0, gt=0.0, le=MAX_TIME_LIMIT_S)]
"""How long the solver may search, seconds."""


class SolvingWindow(TimeWindow):
    """A window to solve over: at most ``MAX_DAYS`` long, or refused naming ``WHAT``."""

    MAX_DAYS: ClassVar[int]
    WHAT: ClassVar[str]

    @model_validator(mode="after")
    def _span(self) -> Self:
        if self.end - self.start > timedelta(days=self.MAX_DAYS):
            raise ValueError(f"{self.WHAT} may span at most {self.MAX_DAYS} days")
        return self


class Level(BaseModel):
    """One objective of the policy: the value reached and the proven bound."""

    name: str
    sense: str
    value: float
    bound: float
    optimal: bool
    tolerance: float = Field(description="Optimal means: proven within this fraction of the bound")


def evidence(document: dict[str, Any]) -> dict[str, Any]:
    """Return the evidence fields of a stored schedule's or plan's document."""
    return {
        "bound": document["bound"],
        "bound_level": document["bound_level"],
        "fairness_gap": document["fairness_gap"],
        "levels": [Level(**lv) for lv in document["levels"]],
    }


@contextmanager
def refused_as_conflict(title: str) -> Iterator[None]:
    """Answer 409 with ``title`` when the store refuses to solve (a JointsatError)."""
    try:
        yield
    except JointsatError as exc:
        raise ProblemError(409, title, str(exc)) from None
