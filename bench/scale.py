"""`make bench-scale`: a notebook at 10,000 and 100,000 chunks: throughput, start to first answer, latency, RSS, re-index.

The corpus is the shared benchmark passages (DRCD dev, CMRC 2018 dev, XQuAD zh and en; CC BY-SA, credits in
../shared/data/SOURCES.md), one file per ten passages. The unique files are indexed end to end once (chunking,
e5 + USE, BM25 terms, Chroma): that is the measured end-to-end throughput on mixed zh/en. Larger notebooks repeat
those files in further folders (rep001/, rep002/, ...: the same text under other sources, hence other chunk ids);
their chunks are written straight through the index's writer with the vectors and metadata of the unique chunks
(embedding 100,000 chunks on 2 cores would take over an hour), and the files are written to disk so that an index
run over them finds them unchanged. Each size is then measured in fresh processes: start to first answer, search
and ask p50/p95 over mixed questions, peak RSS, and the cost of re-indexing one changed file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAG_BENCH_DATA", REPO.parent / "shared" / "data" / "bench"))
SETS = ("drcd_dev", "cmrc2018_dev", "xquad_zh", "xquad_en")
PER_FILE = 10
RESULTS = REPO / "bench" / "results"


def passages(limit_per_set: int | None) -> list[dict]:
    out = []
    for name in SETS:
        rows = [json.loads(line) for line in (DATA / name / "corpus.jsonl").open(encoding="utf-8")]
        out += rows[:limit_per_set]
    return out


def questions(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for name in SETS:
        rows = [json.loads(line) for line in (DATA / name / "queries.sample200.jsonl").open(encoding="utf-8")]
        out += [r["question"] for r in rng.sample(rows, n // len(SETS))]
    rng.shuffle(out)
    return out


def write_files(folder: Path, rows: list[dict]) -> list[Path]:
    """One .txt file per PER_FILE passages: its first title as the first line, the passages as paragraphs."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, len(rows), PER_FILE):
        part = rows[start : start + PER_FILE]
        title = next((r["title"] for r in part if r.get("title")), part[0]["id"])
        path = folder / f"{start // PER_FILE:05d}.txt"
        path.write_text(title + "\n\n" + "\n\n".join(r["text"] for r in part) + "\n", encoding="utf-8")
        files.append(path)
    return files


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss keeps the parent's peak
    across fork + exec, so every measuring process would report the builder's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---- the builder ------------------------------------------------------------------------------------------
def build(work: Path, sizes: list[int], limit_per_set: int | None) -> dict:
    """Index the unique files end to end, then grow the notebook to each size with reused vectors, measuring."""
    from rag import Notebook

    home = work / "home"
    base = write_files(home / "rep000", passages(limit_per_set))
    nb = Notebook(path=work / ".rag", home=home)
    _ = nb.dense_embedder, nb.chunker  # models loaded before the clock starts
    began = time.perf_counter()
    report = nb.index(home / "rep000", progress=False)
    seconds = time.perf_counter() - began
    result: dict = {
        "unique_files": len(base),
        "unique_chunks": report.chunks,
        "end_to_end_seconds": round(seconds, 1),
        "end_to_end_chunks_per_s": round(report.chunks / seconds, 1),
        "sizes": {},
    }
    print(f"end to end: {report.chunks} chunks in {seconds:.1f} s = {report.chunks / seconds:.1f} chunks/s", flush=True)

    index = nb.chunk_index
    store = index.store
    base_meta = index.metadata_by_source()
    base_ids = sorted(i for chunks in base_meta.values() for i in chunks)
    stored = store.collection.get(ids=base_ids, include=["embeddings", "documents", "metadatas"])
    row = {
        i: (e, d, m)
        for i, e, d, m in zip(stored["ids"], stored["embeddings"], stored["documents"], stored["metadatas"])
    }
    per_rep = sum(len(chunks) for chunks in base_meta.values())
    rep = 0
    for size in sizes:
        began, written = time.perf_counter(), 0
        with index.writing():  # one writer for the whole bulk load: BM25 follows once, below
            for _ in range(max(0, -(-(size - index.count()) // per_rep))):
                rep += 1
                written += write_repeat(index, home, base, base_meta, row, f"rep{rep:03d}")
                print(f"  rep{rep:03d}: {len(index.commits.ids())} chunks", flush=True)
        write_seconds = time.perf_counter() - began
        began = time.perf_counter()
        index.sync()  # this process's BM25 follows: the first time at this size it is built
        sync_seconds = time.perf_counter() - began
        chunks = index.count()
        entry = {
            "chunks": chunks,
            "files": len(list(home.rglob("*.txt"))),
            "bulk_write_chunks_per_s": round(written / write_seconds, 1) if written else None,
            "bm25_update_seconds_after_bulk_write": round(sync_seconds, 2),
        }
        print(
            f"{chunks} chunks: bulk write {entry['bulk_write_chunks_per_s']} chunks/s, BM25 {sync_seconds:.1f} s",
            flush=True,
        )
        entry.update(measure(work, home, rep))
        result["sizes"][str(size)] = entry
        print(json.dumps(entry, indent=1), flush=True)
    result["builder_peak_rss_mb"] = round(peak_rss_mb())
    return result


def write_repeat(index, home: Path, base: list[Path], base_meta: dict, row: dict, folder: str) -> int:
    """The unique files again under `folder`, their chunks written with the unique chunks' vectors and metadata."""
    (home / folder).mkdir(exist_ok=True)
    ids, vectors, texts, metas, commits = [], [], [], [], []
    for path in base:
        (home / folder / path.name).write_bytes(path.read_bytes())
        source = f"{folder}/{path.name}"
        head = hashlib.sha1(source.encode()).hexdigest()[
            :12
        ]  # the source part of a chunk id (ingest.indexer.chunk_ids)
        new = []
        for old in base_meta[f"rep000/{path.name}"]:
            vector, text, meta = row[old]
            new.append(head + old[12:])
            vectors.append(vector)
            texts.append(text)
            metas.append({**meta, "source": source})
        ids += new
        commits.append((source, new))
    index.upsert(ids, np.asarray(vectors, dtype=np.float32), texts, metas)
    for source, new in commits:
        index.commit(source, new)
    return len(ids)


def child(work: Path, home: Path, mode: str, *args: str) -> dict:
    """A fresh process doing one measurement; its wall time from spawn is included as `process_seconds` (to its exit),
    and for the first answer `answer_seconds` (from spawn to the answer, without the ~1.5 s the exit then takes to
    free the models)."""
    began, spawned = time.perf_counter(), time.time()
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--child", mode, str(work), str(home), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["process_seconds"] = round(time.perf_counter() - began, 2)
    if "answered_at" in data:
        data["answer_seconds"] = round(data.pop("answered_at") - spawned, 2)
    return data


def measure(work: Path, home: Path, reps: int) -> dict:
    first = child(work, home, "first-answer")
    again = child(work, home, "first-answer")
    latency = child(work, home, "latency")
    changed = home / f"rep{max(1, reps // 2):03d}" / "00003.txt"
    changed.write_text(
        changed.read_text(encoding="utf-8") + f"\n\n一段新加的文字，第{time.time_ns()}版。\n", encoding="utf-8"
    )
    reindex_file = child(work, home, "reindex", str(changed))
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nAnother new paragraph.\n", encoding="utf-8")
    reindex_folder = child(work, home, "reindex", str(changed.parent))
    return {
        "load_average": round(os.getloadavg()[0], 1),  # the machine is shared: how busy it was while measuring
        "start_to_first_answer_s": [first["answer_seconds"], again["answer_seconds"]],
        "start_to_exit_after_first_answer_s": [first["process_seconds"], again["process_seconds"]],
        "first_answer_breakdown": again,
        "latency": latency,
        "reindex_one_changed_file": reindex_file,
        "reindex_its_folder_one_file_changed": reindex_folder,
    }


# ---- the measurements, each in a fresh process ------------------------------------------------------------
def run_child(mode: str, work: Path, home: Path, args: list[str]) -> dict:
    began = time.perf_counter()
    from rag import Notebook
    from rag.index import keyword

    builds = []
    original = keyword.KeywordIndex._full_build
    keyword.KeywordIndex._full_build = lambda self, *a: builds.append(1) or original(self, *a)
    imported = time.perf_counter()
    nb = Notebook(path=work / ".rag", home=home)
    opened = time.perf_counter()
    out: dict = {}
    if mode == "first-answer":
        answer = nb.ask("TPU能否取代GPU?")
        out.update(answered_at=time.time(), refused=answer.refused)
        out.update(import_s=round(imported - began, 2), open_s=round(opened - imported, 2))
        out.update(first_ask_s=round(time.perf_counter() - opened, 2))
    elif mode == "latency":
        qs = questions(40)
        nb.ask(qs[0])  # models loaded, caches warm
        search = []
        for q in qs:
            t = time.perf_counter()
            nb.search(q)
            search.append(time.perf_counter() - t)
        ask = []
        for q in qs[:20]:
            t = time.perf_counter()
            nb.ask(q)
            ask.append(time.perf_counter() - t)
        out.update(
            search_p50_ms=round(1000 * statistics.median(search)),
            search_p95_ms=round(1000 * pct(search, 0.95)),
            ask_p50_ms=round(1000 * statistics.median(ask)),
            ask_p95_ms=round(1000 * pct(ask, 0.95)),
        )
    elif mode == "reindex":
        _ = nb.dense_embedder, nb.chunker
        nb.search("warm")  # BM25 loaded: the cost measured is the run's
        t = time.perf_counter()
        report = nb.index(Path(args[0]), progress=False)
        out.update(
            seconds=round(time.perf_counter() - t, 2),
            updated=report.updated,
            unchanged=report.unchanged,
            embedded=report.embedded,
        )
    out.update(peak_rss_mb=round(peak_rss_mb()), bm25_full_builds=len(builds))
    return out


def start_server(folder: Path) -> subprocess.Popen:
    """`chroma run` on a free loopback port, its url in RAG_CHROMA_URL for this process and the measuring ones."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".log"), "w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("chroma")),
                "run",
                "--path",
                str(folder),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    os.environ["RAG_CHROMA_URL"] = url
    return process


def markdown(result: dict) -> str:
    lines = [
        "# Large notebooks (`make bench-scale`, bench/scale.py)",
        "",
        (
            f"Corpus: the shared benchmark passages ({', '.join(SETS)}; CC BY-SA, ../shared/data/SOURCES.md), "
            f"{PER_FILE} passages per file: {result['unique_files']} unique files, {result['unique_chunks']} chunks, indexed "
            "end to end. Larger sizes repeat those files in further folders (same text, other sources and chunk ids); "
            "**their chunks were written through the index's writer with the unique chunks' vectors and metadata, not "
            "embedded again**. Every figure below except the bulk write is measured in fresh processes."
        ),
        "",
        (
            f"End-to-end indexing (chunking, e5 int8 + USE, BM25 terms, Chroma) on mixed zh/en: "
            f"**{result['end_to_end_chunks_per_s']} chunks/s** ({result['unique_chunks']} chunks in {result['end_to_end_seconds']} s). "
            f"Chroma: {result.get('chroma')}."
        ),
        "",
        (
            "| chunks | start → first answer (s, 1st/2nd) | start → exit (s) | search p50/p95 (ms) | ask p50/p95 (ms) | peak RSS ask (MB) | "
            "re-index 1 changed file (s) | its folder (s) | BM25 full builds at start | bulk write (chunks/s) | load average |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in result["sizes"].values():
        lat = entry["latency"]
        lines.append(
            f"| {entry['chunks']:,} | {entry['start_to_first_answer_s'][0]} / {entry['start_to_first_answer_s'][1]} | "
            f"{' / '.join(map(str, entry.get('start_to_exit_after_first_answer_s', ['?'])))} | "
            f"{lat['search_p50_ms']} / {lat['search_p95_ms']} | {lat['ask_p50_ms']} / {lat['ask_p95_ms']} | "
            f"{lat['peak_rss_mb']} | {entry['reindex_one_changed_file']['seconds']} | "
            f"{entry['reindex_its_folder_one_file_changed']['seconds']} | {entry['first_answer_breakdown']['bm25_full_builds']} | "
            f"{entry['bulk_write_chunks_per_s']} | {entry.get('load_average', '?')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from rag.offline import go_offline

        go_offline()
        mode, work, home, *rest = sys.argv[2:]
        print(json.dumps(run_child(mode, Path(work), Path(home), rest)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="notebook sizes in chunks")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "scale")
    parser.add_argument(
        "--limit-per-set", type=int, default=None, help="unique passages per set (fewer: a quicker run)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    parser.add_argument(
        "--server", action="store_true", help="keep the chunks on a `chroma run` server this run starts"
    )
    parser.add_argument(
        "--measure-only", action="store_true", help="measure the notebook a previous run left in --work again"
    )
    parser.add_argument(
        "--size", help="with --measure-only: the size (a key of --out's sizes) that --work holds; default the largest"
    )
    args = parser.parse_args()
    from rag.offline import go_offline

    go_offline()
    if args.measure_only:
        result = json.loads(args.out.read_text())
        home = args.work / "home"
        reps = len([p for p in home.iterdir() if p.name.startswith("rep")]) - 1
        size = args.size or max(result["sizes"], key=int)
        result["sizes"][size].update(measure(args.work, home, reps))
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
        args.out.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return
    import shutil

    shutil.rmtree(args.work, ignore_errors=True)
    server = start_server(args.work / "chroma-server") if args.server else None
    try:
        result = build(args.work, [int(s) for s in args.sizes.split(",")], args.limit_per_set)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    result["chroma"] = os.environ.get("RAG_CHROMA_URL") or "embedded (PersistentClient in the data folder)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
