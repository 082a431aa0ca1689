"""Run a snippet in a fresh Python process from the repository root: for what a new process loads (imports, timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: object) -> subprocess.CompletedProcess:
    """`python -c code args...` in the repository root; output captured as text, never raises on failure."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
