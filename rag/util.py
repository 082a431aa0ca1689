"""Small helpers shared by several layers (embedders, llama.cpp, the benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def available_cpus() -> int:
    """Cores this process may run on: thread counts above it only add contention (2-core laptops)."""
    try:
        return len(os.sched_getaffinity(0))  # honours taskset/cgroup pinning, unlike cpu_count
    except AttributeError:
        return os.cpu_count() or 1


def save_cache_copy(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`write` a file of the cache folder under a name of this process's, then move it into place: a reader never
    sees it half written, and two first starts at once each write their own. A cache folder that cannot be written
    is no error: the next start loads the slow way again."""
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as f:
            write(f)
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
