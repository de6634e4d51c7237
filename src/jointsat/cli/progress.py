"""Show the user that a long step is running: one rich spinner line per step, on stderr.

Every command that may run for more than a second or two (a solve, a prediction, a
migration, an ingest) wraps the step in :func:`step`. On a terminal it draws
``⠋ sharing the pooled network (CP-SAT, at most 30 s) 0:00:07`` and, when the step ends,
leaves ``✓ sharing the pooled network 12.4 s``; elsewhere (a pipe, a file, a test) it
prints nothing, so that outputs stay clean.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Step:
    """The running step: ``note`` changes the text after its description (a level, a count)."""

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._description = description
        self._task = progress.add_task(escape(description)) if progress is not None else None

    def note(self, text: str) -> None:
        """Show ``text`` after the step's description (on a terminal only)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, description=f"{escape(self._description)} [dim]{escape(text)}[/]"
            )


@contextmanager
def step(console: Console, description: str, *, done: str | None = None) -> Iterator[Step]:
    """Show a spinner with the elapsed time while the block runs (terminals only).

    When the block ends without an error, a line ``✓ done (12.4 s)`` stays (``done``
    defaults to the description); on an error the spinner goes and the error speaks.
    """
    if not console.is_terminal:
        yield Step(None, description)
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    started_s = time.monotonic()
    with progress:
        running = Step(progress, description)
        yield running
    elapsed_s = time.monotonic() - started_s
    console.print(
        f"[green]✓[/] {escape(done or description)} [dim]({elapsed_s:.1f} s)[/]", highlight=False
    )


class Steps:
    """The long steps of a command, each shown by :func:`step`.

    Call it with a step's description as a context manager (a store ``Stage``);
    :meth:`level` notes the solver's level in the running step.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._running: Step | None = None

    @contextmanager
    def __call__(self, description: str) -> Iterator[Step]:
        """Show the step while the block runs."""
        with step(self._console, description) as running:
            self._running = running
            try:
                yield running
            finally:
                self._running = None

    def level(self, number: int, name: str) -> None:
        """Note in the running step that the solver searches its level ``number``."""
        if self._running is not None:
            self._running.note(f"level {number}")
