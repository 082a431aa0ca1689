"""`make bench-throughput`: end-to-end indexing speed (load, chunk, terms, e5 + USE, Chroma) on mixed zh/en, per stage.

A fresh notebook indexes a fixed set end to end: the first N passages of each of drcd_dev, cmrc2018_dev, xquad_zh
and xquad_en (zh-Hant, zh-Hans, zh-Hans, en; CC BY-SA: DRCD CC BY-SA 3.0, CMRC 2018 and XQuAD CC BY-SA 4.0, credits
in ../shared/data/SOURCES.md), ten passages per .txt file as bench.scale writes them, or the repo's seeds/. Models
are loaded before the clock starts. Each stage is timed where it runs (wall and process CPU seconds); stages that
run beside one another (the indexer's pipelining) overlap, so their sum can exceed the wall time. CPU time
(user + sys of the process, all threads) is less sensitive to the other work on a shared machine than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WORK = REPO / "bench" / "work" / "throughput"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Stages:
    """Wall and CPU seconds per stage; thread-safe (a stage may run on the indexer's helper thread)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()

    @contextmanager
    def timed(self, name: str):
        # Thread CPU for single-threaded Python stages; process CPU for the ONNX/BLAS stages whose work runs in
        # library threads (attributed to the stage while it runs: other stages overlapping it are counted too).
        w0, c0, t0 = time.perf_counter(), cpu_seconds(), time.thread_time()
        try:
            yield
        finally:
            w, c, t = time.perf_counter() - w0, cpu_seconds() - c0, time.thread_time() - t0
            with self.lock:
                self.wall[name] += w
                self.cpu[name] += c if name in ("e5", "use") else t

    def wrap(self, name: str, fn):
        def timed_fn(*args, **kwargs):
            with self.timed(name):
                return fn(*args, **kwargs)

        return timed_fn


def write_set(folder: Path, seeds: bool, limit_per_set: int) -> list[Path]:
    if seeds:
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for f in sorted((REPO / "seeds").glob("*")):
            if f.is_file():
                shutil.copyfile(f, folder / f.name)
                files.append(folder / f.name)
        return files
    from bench.scale import passages, write_files

    return write_files(folder, passages(limit_per_set))


def instrument(nb, stages: Stages) -> None:
    """Time each stage where it is called: chunking, keyword terms + metadata, e5, USE, Chroma writes."""
    import ingest.indexer as indexer_module

    chunker = nb.chunker
    chunker.split = stages.wrap("load+chunk", chunker.split)
    indexer_module.load_document = stages.wrap("load+chunk", indexer_module.load_document)
    indexer_module.chunk_metadata = stages.wrap("terms+metadata", indexer_module.chunk_metadata)
    if hasattr(indexer_module, "chunk_terms"):  # terms computed on the writer thread
        indexer_module.chunk_terms = stages.wrap("terms+metadata", indexer_module.chunk_terms)
    for part, _ in nb.dense_embedder.parts:
        name = "use" if getattr(part, "name", "").startswith("use") else "e5"
        part.embed_passages = stages.wrap(name, part.embed_passages)
    index = nb.chunk_index
    index.upsert = stages.wrap("chroma", index.upsert)
    index.commit = stages.wrap("chroma", index.commit)


def configure(nb, e5_threads: int | None, use_threads: int | None, spin: bool | None, parallel: bool | None) -> dict:
    """Experiment knobs (defaults: the code's own choices); returns what was used."""
    from rag.embed import fused, onnx
    from rag.util import available_cpus

    e5, use = (p for p, _ in nb.dense_embedder.parts)
    if spin is not None:
        onnx.ONNX_SPIN = spin
    if e5_threads is not None or spin is not None:
        threads = e5_threads or getattr(e5._session, "threads", None) or available_cpus()
        e5._session = onnx.OnnxSession(Path(e5._session.session._model_path), threads)
    if use_threads is not None:
        use.model.threads = use_threads
        if use.model._backend is not None:
            use.model._backend.threads = use_threads
    if parallel is not None and hasattr(fused, "PARALLEL_FROM"):
        fused.PARALLEL_FROM = 2 if parallel else 10**9
    return {
        "e5_threads": getattr(e5._session, "threads", available_cpus()),
        "e5_spin": getattr(onnx, "ONNX_SPIN", True),
        "use_threads": use.model.threads,
        "embedders_side_by_side": getattr(fused, "PARALLEL_FROM", 10**9) < 10**9,
    }


def run(seeds: bool, limit_per_set: int, label: str, knobs: dict | None = None) -> dict:
    from rag import Notebook

    name = "seeds" if seeds else f"mixed{limit_per_set}"
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    files = write_set(home / "set", seeds, limit_per_set)
    nb = Notebook(path=work / ".rag", home=home)
    _ = nb.dense_embedder, nb.chunker, nb.chunk_index  # models and the empty index loaded before the clock
    for part, _w in nb.dense_embedder.parts:  # first-call costs (USE's pickled weights, ORT's first run)
        part.embed_passages(["warm-up 預熱"])
    config = configure(nb, **(knobs or {}))
    nb.dense_embedder.embed_passages(["warm-up 預熱", "second"])
    from rag.text import bm25_terms

    bm25_terms("預熱 warm-up")  # jieba's dictionary
    stages = Stages()
    instrument(nb, stages)
    load_before = loadavg()
    c0, w0 = cpu_seconds(), time.perf_counter()
    report = nb.index(home / "set", progress=False)
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    load_after = loadavg()
    n = report.chunks
    result = {
        "label": label,
        "set": name,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO, check=False
        ).stdout.strip(),
        "files": len(files),
        "chunks": n,
        "wall_s": round(wall, 2),
        "chunks_per_s": round(n / wall, 1),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_chunk": round(1000 * cpu / n, 1),
        "stages_wall_ms_per_chunk": {k: round(1000 * v / n, 1) for k, v in stages.wall.items()},
        "stages_cpu_ms_per_chunk": {k: round(1000 * v / n, 1) for k, v in stages.cpu.items()},
        "other_wall_ms_per_chunk": round(1000 * (wall - sum(stages.wall.values())) / n, 1),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "config": config,
        "cpus": len(os.sched_getaffinity(0)),
        "nice": os.nice(0),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--limit-per-set", type=int, default=60, help="passages from each of the four sets (default 60)")
    ap.add_argument("--seeds", action="store_true", help="index seeds/ instead of the benchmark passages")
    ap.add_argument("--label", default="", help="a name for this run in the results (before, after, ...)")
    ap.add_argument("--save", action="store_true", help="append the run to bench/results/throughput.json")
    ap.add_argument("--e5-threads", type=int, default=None, help="ONNX intra-op threads (default: the code's)")
    ap.add_argument("--use-threads", type=int, default=None, help="USE BLAS threads (default: the code's)")
    ap.add_argument("--spin", choices=("on", "off"), default=None, help="ONNX worker threads spin while waiting")
    ap.add_argument("--parallel", choices=("on", "off"), default=None, help="e5 and USE side by side")
    args = ap.parse_args(argv)
    knobs = {
        "e5_threads": args.e5_threads,
        "use_threads": args.use_threads,
        "spin": None if args.spin is None else args.spin == "on",
        "parallel": None if args.parallel is None else args.parallel == "on",
    }
    result = run(args.seeds, args.limit_per_set, args.label, knobs)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    print(
        f"{result['set']}: {result['chunks']} chunks in {result['wall_s']} s = {result['chunks_per_s']} chunks/s, "
        f"CPU {result['cpu_ms_per_chunk']} ms/chunk, load {result['loadavg_before'][0]} -> {result['loadavg_after'][0]}"
    )
    if args.save:
        path = RESULTS / "throughput.json"
        runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        runs.append(result)
        path.write_text(json.dumps(runs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
