"""Check the architecture's rules that import-linter cannot see."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jointsat"
PURE_PACKAGES = ("orbits",)
CLOCK_CALLS = {"now", "utcnow", "today"}  # datetime's clocks; the time module is linted out
IO_CALLS = {"open", "input", "print"}


def _pure_modules() -> list[Path]:
    return sorted(p for package in PURE_PACKAGES for p in (SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: p.name)
def test_pure_core_reads_no_clock_and_does_no_io(path: Path) -> None:
    offences = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
            offences.append(f"line {node.lineno}: .{func.attr}()")
        if isinstance(func, ast.Name) and func.id in IO_CALLS:
            offences.append(f"line {node.lineno}: {func.id}()")
    assert offences == [], f"{path.name} reads the clock or does I/O: {offences}"


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
