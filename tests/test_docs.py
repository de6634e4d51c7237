"""Run the code examples of README.md and docs/*.md as written, so they cannot drift.

Python blocks are executed; ``sh`` and ``console`` blocks are run command by command,
each a ``jointsat`` command (``.venv/bin/jointsat`` or ``$ jointsat`` as written),
in a temporary working copy holding the bundled data (``src/jointsat/data``), with a
store of its own. A block that cannot run as written (a fragment, a server left
running, a file of the reader's) is preceded in the document by
``<!-- doc-test: skip REASON -->``: the reason is the test's skip reason.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "sh", "console")
BLOCK = re.compile(
    r"(?:<!-- doc-test: skip (?P<skip>.*?) -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```",
    re.S | re.M,
)
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Example:
    """A fenced code block of a document."""

    document: str
    line: int
    lang: str
    body: str
    skip: str | None


def examples() -> list[Example]:
    """Return the runnable blocks of every document."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        for m in BLOCK.finditer(text):
            if m["lang"] in RUN:
                line = text.count("\n", 0, m.start("lang")) + 1
                name = str(path.relative_to(ROOT))
                found.append(Example(name, line, m["lang"], m["body"], m["skip"]))
    return found


def commands(body: str) -> list[list[str]]:
    """Return a shell block's commands as argument lists: lines joined, prompts and comments cut."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        if line and not line.startswith("#"):
            out.append(shlex.split(line, comments=True))
    return out


@pytest.fixture
def working_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a folder laid out like the repository's root, with the bundled data."""
    shutil.copytree(ROOT / "src" / "jointsat" / "data", tmp_path / "src" / "jointsat" / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JOINTSAT_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("JOINTSAT_ARCHIVE_ROOT", str(tmp_path / "archive"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def test_the_documents_have_examples_to_run() -> None:
    ran = [e for e in examples() if e.skip is None]
    assert {e.document for e in ran} >= {"README.md"}
    assert {e.lang for e in ran} >= {"python", "sh"}


def test_commands_are_read_as_a_shell_reads_them() -> None:
    body = "$ jointsat passes -e a.tle \\\n      --days 1   # one day\n\n# note\n"
    assert commands(body) == [["jointsat", "passes", "-e", "a.tle", "--days", "1"]]


@pytest.mark.parametrize("example", examples(), ids=lambda e: f"{e.document}:{e.line}")
def test_example_runs_as_written(example: Example, working_copy: Path) -> None:
    if example.skip is not None:
        pytest.skip(example.skip)
    if example.lang == "python":
        code = compile(example.body, f"{example.document}:{example.line}", "exec")
        exec(code, {"__name__": "__doc_example__"})
        return
    for argv in commands(example.body):
        program = Path(argv[0]).name
        assert program == "jointsat", f"{example.document}:{example.line} runs {argv[0]}"
        done = subprocess.run(
            [sys.executable, "-m", "jointsat", *argv[1:]],
            cwd=working_copy,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}\n{done.stderr}"
