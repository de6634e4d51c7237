"""Check that a test needing a missing file of ``../shared/data`` skips, saying which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import data

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_file_skips_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "SHARED", tmp_path)
    (tmp_path / "orbits").mkdir()
    (tmp_path / "orbits" / "here.tle").write_text("")
    assert data.orbit_file("here.tle") == tmp_path / "orbits" / "here.tle"
    with pytest.raises(pytest.skip.Exception, match=r"no orbits/gone\.tle") as skipped:
        data.orbit_file("gone.tle")
    assert str(tmp_path / "orbits" / "gone.tle") in str(skipped.value)
    assert data.SHARED_VARIABLE in str(skipped.value)


def test_a_module_reading_a_missing_file_at_import_is_skipped_not_an_error() -> None:
    module = "tests/service/test_access_matrix.py"  # reads an element file at import
    env = {**os.environ, data.SHARED_VARIABLE: str(ROOT / "no-such-folder")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "-rs", "--co", module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, out.stdout  # no error
    assert "SKIPPED [1]" in out.stdout, out.stdout
    assert "orbits/tle-CATNR-25544.txt" in out.stdout
