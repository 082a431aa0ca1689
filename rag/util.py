"""Small helpers shared by several layers (embedders, llama.cpp, the benchmarks)."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """Cores this process may run on: thread counts above it only add contention (2-core laptops)."""
    try:
        return len(os.sched_getaffinity(0))  # honours taskset/cgroup pinning, unlike cpu_count
    except AttributeError:
        return os.cpu_count() or 1
