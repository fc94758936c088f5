"""ruff, configured in pyproject.toml ([tool.ruff]), finds nothing in the repository: nodelib,
tools, benchmarks, tests and the code cells of the notebooks. `make lint` runs the same check."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    assert ruff.exists(), f"ruff is not installed next to {sys.executable}: run `make venv`"
    result = subprocess.run([str(ruff), "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        "ruff reports problems (fix them, or run `make lint` to see them again; "
        "`.venv/bin/ruff check --fix .` fixes the ones marked [*]):\n"
        + result.stdout + result.stderr)
