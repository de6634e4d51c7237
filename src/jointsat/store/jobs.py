"""Background jobs kept in the store: design studies and analysis runs alike.

A job's row has ``status`` (``StudyStatus``), ``started_at``, ``heartbeat_at``,
``finished_at`` and ``error``. A process claims a queued job atomically (of several
server processes, one runs each), moves its heartbeat on while it runs, and settles
it done or failed; a job left ``running`` by a process that stopped (no heartbeat for
``ABANDONED_AFTER``) is marked failed, saying so, by the next process that looks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jointsat.store.tables import AnalysisRun, DesignStudyRecord, StudyStatus

Job = type[DesignStudyRecord] | type[AnalysisRun]

ABANDONED_AFTER = timedelta(minutes=5)
"""A running job whose heartbeat is older than this was left by a process that stopped."""

INTERRUPTED = "interrupted: the server stopped while it ran; submit it again"

HEARTBEAT_S = 30.0
"""How often a running job's heartbeat is written (well under ``ABANDONED_AFTER``)."""

_log = logging.getLogger(__name__)


def _update(
    session: Session, model: Job, job_id: int, when: Any, values: Mapping[str, object]
) -> int:
    done = session.execute(
        update(model)
        .where(model.id == job_id, when)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(done, "rowcount", 0) or 0)


def claim(session: Session, model: Job, job_id: int, now: datetime) -> bool:
    """Mark a queued job running (committed); False when it is not queued (any more)."""
    values = {"status": StudyStatus.RUNNING, "started_at": now, "heartbeat_at": now}
    return _update(session, model, job_id, model.status == StudyStatus.QUEUED, values) == 1


def queued(session: Session, model: Job) -> list[int]:
    """Return the ids of the queued jobs, oldest first."""
    query = select(model.id).where(model.status == StudyStatus.QUEUED).order_by(model.id)
    return list(session.scalars(query))


def beat(session: Session, model: Job, job_id: int, now: datetime) -> None:
    """Note that a running job is still being run (committed)."""
    _update(session, model, job_id, model.status == StudyStatus.RUNNING, {"heartbeat_at": now})


def fail_abandoned(
    session: Session, model: Job, now: datetime, after: timedelta = ABANDONED_AFTER
) -> int:
    """Mark failed the running jobs whose heartbeat stopped ``after`` ago (committed)."""
    done = session.execute(
        update(model)
        .where(model.status == StudyStatus.RUNNING, model.heartbeat_at < now - after)
        .values(status=StudyStatus.FAILED, error=INTERRUPTED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(done, "rowcount", 0) or 0)


def settle(
    session: Session,
    model: Job,
    job_id: int,
    values: Mapping[str, object],
    from_status: StudyStatus,
) -> None:
    """Set a job's fields if it is still in ``from_status`` (committed)."""
    _update(session, model, job_id, model.status == from_status, values)


def requeue(session: Session, model: Job, job_id: int) -> None:
    """Put a running job back in the queue (its process stops; committed)."""
    back = {"status": StudyStatus.QUEUED, "started_at": None, "heartbeat_at": None}
    settle(session, model, job_id, back, StudyStatus.RUNNING)


def fail(session: Session, model: Job, job_id: int, reason: str, now: datetime) -> None:
    """Mark a running job failed with its reason (committed)."""
    values = {"status": StudyStatus.FAILED, "error": reason[:4000], "finished_at": now}
    settle(session, model, job_id, values, StudyStatus.RUNNING)


@contextmanager
def heartbeat(beat: Callable[[], None], label: str) -> Iterator[None]:
    """Call ``beat`` every ``HEARTBEAT_S`` on a thread of its own while the block runs.

    A job's heartbeat tells the store that the job is still being run (``store.jobs``).
    """
    done = threading.Event()

    def beating() -> None:
        while not done.wait(HEARTBEAT_S):
            try:
                beat()
            except Exception:
                _log.exception("%s: heartbeat failed", label)

    thread = threading.Thread(target=beating, name=f"{label}-beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
