"""Check the architecture's rules that import-linter cannot see.

The pure modules are those of the import-linter contract that forbids the clock (the
``time`` module) in pyproject.toml, so a package added to that contract is checked here
too: no clock read, no file or console I/O, no process started.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
CLOCK_CALLS = {"now", "utcnow", "today"}  # datetime's clocks; the time module is linted out
CLOCK_OWNERS = {"datetime", "date"}
IO_CALLS = {"open", "input", "print"}
PROCESS_MODULES = {"subprocess", "multiprocessing", "concurrent.futures.process", "pty"}
PROCESS_NAMES = {"ProcessPoolExecutor"}
OS_PROCESS_CALLS = {"fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp"}
OS_PROCESS_PREFIXES = ("spawn", "exec")


def pure_module_names(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Return the source modules of the contracts that keep the clock out (the pure core)."""
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    return sorted(
        module
        for contract in contracts
        if contract["type"] == "forbidden" and "time" in contract["forbidden_modules"]
        for module in contract["source_modules"]
    )


def _files_of(module: str) -> list[Path]:
    path = SRC.joinpath(*module.split("."))
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    assert path.with_suffix(".py").is_file(), f"the pure module {module} is not in src/"
    return [path.with_suffix(".py")]


def _pure_files() -> list[Path]:
    return sorted({p for module in pure_module_names() for p in _files_of(module)})


def _is_process_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in PROCESS_MODULES)


def _is_os_process_call(name: str) -> bool:
    return name in OS_PROCESS_CALLS or name.startswith(OS_PROCESS_PREFIXES)


def offences(source: str, filename: str = "<source>") -> list[str]:
    """Return each clock read, I/O call and process start of a module's source, by line."""
    found = []
    tree = ast.parse(source, filename=filename)
    os_names = {  # what the module calls the os module
        alias.asname or "os"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "os"
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_process_module(alias.name):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = {alias.name for alias in node.names}
            if _is_process_module(node.module):
                found.append(f"line {node.lineno}: from {node.module} import")
            elif node.module == "os" and any(_is_os_process_call(n) for n in names):
                found.append(f"line {node.lineno}: from os import {sorted(names)}")
            elif names & PROCESS_NAMES:
                found.append(f"line {node.lineno}: import {sorted(names & PROCESS_NAMES)}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                found.append(f"line {node.lineno}: .{func.attr}()")
            if isinstance(func, ast.Name) and func.id in IO_CALLS:
                found.append(f"line {node.lineno}: {func.id}()")
        elif isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if node.attr in CLOCK_CALLS and owner in CLOCK_OWNERS:  # passed on, not called
                found.append(f"line {node.lineno}: {owner}.{node.attr}")
            if node.attr in PROCESS_NAMES:
                found.append(f"line {node.lineno}: .{node.attr}")
            if owner in os_names and _is_os_process_call(node.attr):
                found.append(f"line {node.lineno}: {owner}.{node.attr}")
    return sorted(set(found), key=lambda s: int(s.split()[1].rstrip(":")))


def test_the_pure_core_is_the_import_linter_contract() -> None:
    names = pure_module_names()
    assert {"jointsat.orbits", "jointsat.scheduling", "jointsat.planning"} <= set(names)
    assert "jointsat.archive.rights" in names
    for module in names:
        assert _files_of(module)


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_core_reads_no_clock_does_no_io_and_starts_no_process(path: Path) -> None:
    found = offences(path.read_text(), filename=str(path))
    where = path.relative_to(SRC)
    assert found == [], f"{where} reads the clock, does I/O or starts processes: {found}"


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nt = datetime.now()",
        "import datetime\nt = datetime.datetime.utcnow()",
        "from datetime import date\nclock = date.today",
        "print('x')",
        "f = open('x')",
        "import subprocess",
        "import multiprocessing.pool",
        "from multiprocessing import Pool",
        "from concurrent.futures import ProcessPoolExecutor",
        "import concurrent.futures\nPool = concurrent.futures.ProcessPoolExecutor",
        "import os as system_os\nsystem_os.fork()",
        "import os\nos.system('ls')",
        "import os\nos.spawnv(0, 'ls', [])",
        "import os\nos.execv('ls', [])",
        "from os import posix_spawn",
    ],
)
def test_each_kind_of_offence_is_caught(source: str) -> None:
    assert offences(source) != []


def test_the_pure_core_may_compute_with_datetimes_and_threads() -> None:
    source = (
        "from datetime import datetime, timedelta\n"
        "from concurrent.futures import ThreadPoolExecutor, Executor\n"
        "def f(now: datetime) -> datetime:\n"
        "    return now + timedelta(days=1)\n"
    )
    assert offences(source) == []


def test_importing_jointsat_does_no_work() -> None:
    code = (
        "import sys, jointsat; "
        "print(sorted(m for m in ('numpy', 'sgp4', 'typer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve_from_the_package() -> None:
    import jointsat
    from jointsat import api

    for name in api.__all__:
        assert getattr(jointsat, name) is getattr(api, name)
    with pytest.raises(AttributeError):
        _ = jointsat.no_such_name  # type: ignore[attr-defined]


ROUTES = SRC / "jointsat" / "service" / "routes"
SQL_CALLS = {"scalars", "scalar", "execute", "get", "query"}  # a session's ways to query


def route_offences(source: str) -> list[str]:
    """Return what makes a route module more than HTTP: SQL, or another route imported."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "sqlalchemy" or node.module.startswith("sqlalchemy.sql"):
                found.append(f"line {node.lineno}: SQL from {node.module}")
            if any(n.startswith("jointsat.service.routes.") for n in names):
                found.append(f"line {node.lineno}: imports another route ({node.module})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jointsat.service.routes."):
                    found.append(f"line {node.lineno}: imports another route ({alias.name})")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
        ):
            found.append(f"line {node.lineno}: session.{node.func.attr}(...)")
    return found


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_routes_speak_http_and_leave_queries_to_the_store(path: Path) -> None:
    assert route_offences(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select\n",
        "from jointsat.service.routes import schedules\n",
        "from jointsat.service.routes.schedules import Level\n",
        "import jointsat.service.routes.plans\n",
        "def f(session):\n    return session.scalars(q)\n",
        "def f(session):\n    return session.get(Partner, 1)\n",
    ],
)
def test_the_route_check_sees_sql_and_route_imports(source: str) -> None:
    assert route_offences(source) != []
