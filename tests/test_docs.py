"""Run the code examples of README.md and docs/*.md as written, so they cannot drift.

Each document runs in a folder of its own laid out like the repository's root (the
bundled data under ``src/jointsat/data``, the user's data folder inside it), its blocks
in order, so that a later block uses what an earlier one wrote:

- ``python`` blocks are executed, in one namespace per document;
- ``sh`` and ``console`` blocks are run command by command with bash (``$ `` prompts
  cut, continued lines joined), ``jointsat`` and ``.venv/bin/jointsat`` being this
  checkout's ``python -m jointsat``. The lines of a ``console`` block that are not
  commands are output: each must be a line the command printed (``...`` stands for
  anything). A token a command prints (``jst_...``) is the ``$TOKEN`` of the next ones,
  as the reader would set it. ``jointsat serve`` starts in the background on a free
  port of 127.0.0.1 (what ``127.0.0.1:8000`` in the later commands then means) and
  stops with the document; ``curl`` runs against it and fails on an HTTP error.
  ``jointsat elements fetch`` talks to a fake CelesTrak and Space-Track
  (``tests/sources/fake.py``, on 127.0.0.1) where the reader's talks to theirs.
- ``<!-- doc-test: file NAME -->`` before a block writes the block as the file NAME
  before the document runs (a problem file the document shows, say), and
  ``<!-- doc-test: given NAME ... -->`` stands in for files of the reader's (instrument
  frames) with a line of text each.
- ``<!-- doc-test: skip REASON -->`` before a block skips it: REASON is the skip's
  reason. ``make`` is never run here: ``make demo`` and ``make test`` install a
  virtual environment and run the whole suite, which this test is part of.

``jointsat demo`` takes about 20 s; the run (all xdist workers together) runs each
distinct demo command once and gives a later document the files it wrote and the
output it printed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.sources.fake import serving
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "sh", "console")
BLOCK = re.compile(
    r"(?:<!-- doc-test: (?P<kind>skip|file) (?P<arg>.*?) -->\n)?"
    r"^```(?P<lang>\w*)\n(?P<body>.*?)^```",
    re.S | re.M,
)
GIVEN = re.compile(r"<!-- doc-test: given (?P<names>.*?) -->")
TOKEN = re.compile(r"\bjst_[A-Za-z0-9_-]+")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
DOC_PORT = "127.0.0.1:8000"
COMMAND_TIMEOUT_S = 300
SERVER_START_S = 60


@dataclass(frozen=True)
class Example:
    """A fenced code block of a document."""

    document: str
    line: int
    lang: str
    body: str
    skip: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class Command:
    """A command of a shell block, with the output lines the document shows for it."""

    text: str
    output: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)


def examples(path: Path) -> list[Example]:
    """Return the fenced blocks of a document, in order."""
    text = path.read_text()
    name = str(path.relative_to(ROOT))
    found = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        skip = m["arg"] if m["kind"] == "skip" else None
        file = m["arg"] if m["kind"] == "file" else None
        found.append(Example(name, line, m["lang"], m["body"], skip, file))
    return found


def given(path: Path) -> list[str]:
    """Return the reader's files a document's examples read."""
    return [name for m in GIVEN.finditer(path.read_text()) for name in m["names"].split()]


def all_examples() -> list[Example]:
    return [e for path in DOCUMENTS for e in examples(path)]


def commands(body: str, lang: str = "sh") -> list[Command]:
    """Return a shell block's commands: lines joined, prompts cut, a console's output kept."""
    lines = body.splitlines()
    out: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if lang == "console" and not line.startswith("$ "):
            if line and out:
                out[-1] = Command(out[-1].text, (*out[-1].output, line))
            continue
        line = line.removeprefix("$ ")
        while i < len(lines) and (line.endswith("\\") or not closed(line)):
            if line.endswith("\\"):
                line = line[:-1].rstrip() + " " + lines[i].strip()
            else:
                line = line + "\n" + lines[i]
            i += 1
        if line and not line.startswith("#"):
            out.append(Command(line))
    return out


def closed(line: str) -> bool:
    """Whether a command's quotes are closed (a quoted argument may span lines)."""
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def printed(expected: str, stdout: str) -> bool:
    """Whether a line the document shows is a line of the output (``...``: anything)."""
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return any(re.fullmatch(pattern, line.strip()) for line in stdout.splitlines())


def files_of(folder: Path) -> dict[Path, tuple[int, int]]:
    return {
        p.relative_to(folder): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    }


@dataclass
class DemoRun:
    """What a ``jointsat demo`` command wrote in its folder and printed."""

    files: Path
    stdout: str


@dataclass
class Shell:
    """Runs a document's commands in its folder, as a reader's shell would."""

    folder: Path
    demos: Demos
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sources: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        wrapper = f'#!/bin/sh\nexec "{sys.executable}" -m jointsat "$@"\n'
        for folder in (self.folder / ".venv" / "bin", self.folder / ".doc-test" / "bin"):
            folder.mkdir(parents=True)
            (folder / "jointsat").write_text(wrapper)
            (folder / "jointsat").chmod(0o755)
        (self.folder / ".doc-test" / ".curlrc").write_text("fail-with-body\nsilent\nshow-error\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOINTSAT_")}
        self.env["PATH"] = f"{self.folder / '.doc-test' / 'bin'}{os.pathsep}{self.env['PATH']}"
        self.env["XDG_DATA_HOME"] = str(self.folder / "data")
        self.env["CURL_HOME"] = str(self.folder / ".doc-test")
        self.port = free_port()

    def run(self, command: Command, where: str) -> None:
        argv = command.argv
        n = next((i for i, a in enumerate(argv) if not ASSIGNMENT.match(a)), len(argv))
        prefix, words = argv[:n], argv[n:]
        program = Path(words[0]).name if words else ""
        if program == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            return
        assert program in ("jointsat", "curl"), f"{where} runs {words[0] if words else argv}"
        if words[1:2] == ["serve"]:
            self.serve(prefix, words)
            return
        if words[1:3] == ["elements", "fetch"] and "JOINTSAT_CELESTRAK_URL" not in self.env:
            fake = self.sources.enter_context(serving())
            self.env["JOINTSAT_CELESTRAK_URL"] = self.env["JOINTSAT_SPACETRACK_URL"] = fake.base
        if words[1:2] == ["demo"]:
            stdout = self.demo(command, where)
        else:
            stdout = self.shell(command.text.replace(DOC_PORT, f"127.0.0.1:{self.port}"), where)
        for line in command.output:
            assert printed(line, stdout), (
                f"{where}: {command.text} did not print {line!r}:\n{stdout}"
            )
        tokens = TOKEN.findall(stdout)
        if tokens:
            self.env["TOKEN"] = tokens[-1]

    def shell(self, text: str, where: str) -> str:
        done = subprocess.run(
            ["bash", "-c", text],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        assert done.returncode == 0, f"{where}: {text}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def demo(self, command: Command, where: str) -> str:
        """Run a demo command, or give what the run's first run of it wrote."""
        with self.demos.claim(shlex.join(command.argv)) as (known, files):
            if known is None:
                before = files_of(self.folder)
                stdout = self.shell(command.text, where)
                for path, stamp in files_of(self.folder).items():
                    if before.get(path) != stamp:
                        (files / path).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(self.folder / path, files / path)
                known = self.demos.keep(files, stdout)
            else:
                shutil.copytree(known.files, self.folder, dirs_exist_ok=True)
        return known.stdout

    def serve(self, prefix: list[str], words: list[str]) -> None:
        env = dict(self.env, **dict(a.split("=", 1) for a in prefix))
        server = subprocess.Popen(
            [
                str(self.folder / ".doc-test" / "bin" / "jointsat"),
                *words[1:],
                "--port",
                str(self.port),
            ],
            cwd=self.folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.servers.append(server)
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, f"jointsat serve stopped with status {server.returncode}"
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/openapi.json", timeout=5
                ).close()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # slow under load
                assert time.monotonic() < deadline, "jointsat serve did not answer"
                time.sleep(0.2)

    def close(self) -> None:
        self.sources.close()
        for server in self.servers:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@dataclass
class Demos:
    """The run's demo runs, by command, kept in a folder that the xdist workers share.

    A worker takes a command's lock before running it, so that a document on another
    worker waits for the run and copies what it wrote instead of running it again.
    """

    folder: Path

    @contextmanager
    def claim(self, command: str) -> Iterator[tuple[DemoRun | None, Path]]:
        """Hold the command's lock; yield its run if one is kept, and its files' folder."""
        folder = self.folder / hashlib.sha256(command.encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                stdout = folder / "stdout"
                if stdout.exists():
                    yield DemoRun(folder / "files", stdout.read_text()), folder / "files"
                else:  # none yet, or one that failed part of the way: start afresh
                    shutil.rmtree(folder / "files", ignore_errors=True)
                    yield None, folder / "files"
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def keep(files: Path, stdout: str) -> DemoRun:
        """Record a finished run (its files are in place): later claims get it."""
        files.mkdir(parents=True, exist_ok=True)
        (files.parent / "stdout").write_text(stdout)
        return DemoRun(files, stdout)


@pytest.fixture(scope="session")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Demos:
    """The demo runs of this pytest run: of every xdist worker, under one folder."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return Demos(tmp_path_factory.getbasetemp().parent / "doc-demos")
    return Demos(tmp_path_factory.mktemp("demos"))


def test_the_documents_have_examples_to_run() -> None:
    ran = [e for e in all_examples() if e.lang in RUN and e.skip is None]
    assert {e.document for e in ran} >= {"README.md", "docs/cli.md"}
    assert {e.lang for e in ran} >= {"python", "sh", "console"}


def test_commands_are_read_as_a_shell_reads_them() -> None:
    body = "$ jointsat passes -e a.tle \\\n      --days 1   # one day\nsome output\n\n"
    assert commands(body, "console") == [
        Command("jointsat passes -e a.tle --days 1   # one day", ("some output",))
    ]
    assert commands(body, "console")[0].argv == ["jointsat", "passes", "-e", "a.tle", "--days", "1"]
    assert commands("# note\njointsat demo\n") == [Command("jointsat demo")]
    assert printed("3 product(s) ... 2 new", "  3 product(s) archived in /x, 2 new\n")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_document_runs_as_written(
    document: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demos: Demos,
) -> None:
    folder = tmp_path / "work"
    shutil.copytree(ROOT / "src" / "jointsat" / "data", folder / "src" / "jointsat" / "data")
    monkeypatch.chdir(folder)
    for name in given(document):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"a stand-in for the reader's {name}\n")
    blocks = examples(document)
    for example in blocks:
        if example.file is not None:
            (folder / example.file).write_text(example.body)
    shell = Shell(folder, demos)
    namespace: dict[str, Any] = {"__name__": "__doc_example__"}
    try:
        for example in blocks:
            where = f"{example.document}:{example.line}"
            if example.skip is not None or example.lang not in RUN:
                continue
            if example.lang == "python":
                exec(compile(example.body, where, "exec"), namespace)
                continue
            for command in commands(example.body, example.lang):
                shell.run(command, where)
    finally:
        shell.close()


@pytest.mark.parametrize(
    "example",
    [e for e in all_examples() if e.skip is not None],
    ids=lambda e: f"{e.document}:{e.line}",
)
def test_skipped_example(example: Example) -> None:
    pytest.skip(example.skip)
