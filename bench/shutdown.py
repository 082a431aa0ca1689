"""`python -m bench.shutdown`: seconds from Ctrl-C (or SIGTERM) to exit for `rag index` in the middle of embedding
and for `rag serve` (the bounds the tests no longer assert: a busy machine is a benchmark's figure, not a failure).

Each run is a fresh process on a fresh data folder in a temporary home; prints one line per run and a summary.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIG = "# Big\n\n" + "\n\n".join(f"Paragraph {i} on memory bandwidth and accelerators. " * 8 for i in range(60))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_after(command: list[str], home: Path, ready: str, signum: int, wait: float) -> tuple[float, int]:
    """Start `command`, wait for `ready` on its output (then `wait` seconds), send `signum`; (seconds to exit, code)."""
    env = dict(os.environ, RAG_HOME=str(home), RAG_SEEDS=str(home / "docs"), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if ready in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    if not seen.wait(600):
        proc.kill()
        raise RuntimeError(f"{' '.join(command)}: never printed {ready!r}")
    time.sleep(wait)
    proc.send_signal(signum)
    began = time.perf_counter()
    code = proc.wait(timeout=120)
    return time.perf_counter() - began, code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.shutdown", description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=3, help="runs of each")
    args = ap.parse_args(argv)
    rag = [sys.executable, "-m", "rag.cli"]
    times: dict[str, list[float]] = {}
    for run in range(args.n):
        for name, signum in (("index, Ctrl-C while embedding", signal.SIGINT), ("serve, SIGTERM", signal.SIGTERM)):
            with tempfile.TemporaryDirectory() as folder:
                home = Path(folder)
                (home / "docs").mkdir()
                (home / "docs" / "big.md").write_text(BIG, encoding="utf-8")
                if name.startswith("index"):
                    command = [*rag, "--path", str(home / ".rag"), "index", str(home / "docs")]
                    seconds, code = _stop_after(command, home, "embedding:", signum, 1.0)
                else:
                    command = [*rag, "--path", str(home / ".rag"), "serve", "--port", str(_free_port())]
                    seconds, code = _stop_after(command, home, "Notebook on http://", signum, 1.0)
            times.setdefault(name, []).append(seconds)
            print(f"run {run + 1}: {name}: exit {code} after {seconds:.2f} s", flush=True)
    load = os.getloadavg()[0]
    for name, values in times.items():
        print(
            f"{name}: median {statistics.median(values):.2f} s, max {max(values):.2f} s over {len(values)} runs (load {load:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
