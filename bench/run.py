"""`make bench`: index time, embedding speed, latency, dev.jsonl metrics and the external retrieval sets,
each beside a naive LangChain pipeline (RecursiveCharacterTextSplitter 1000/200, same embedder, Chroma top-k)."""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from rag import Notebook
from rag.evaluate import evaluate, load_questions
from rag.offline import go_offline
from rag.util import available_cpus

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bench"
WORK = REPO / "bench" / "work"
RESULTS = REPO / "bench" / "results"
# (query set, corpus set): the cross-lingual sets reuse the other language's corpus.
SETS = {
    "drcd_dev": "drcd_dev",
    "cmrc2018_dev": "cmrc2018_dev",
    "xquad_zh": "xquad_zh",
    "xquad_en": "xquad_en",
    "xquad_en2zh": "xquad_zh",
    "xquad_zh2en": "xquad_en",
    "mixed_drcd_xquad": "mixed_drcd_xquad",
}
FULL_BY_DEFAULT = {"mixed_drcd_xquad"}  # its target is stated on the full query file


def run_header() -> dict:
    """When, which commit, which machine: the head of every result file (bench.run, bench.llm)."""
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, cwd=REPO, check=False).stdout.strip()
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "machine": f"{platform.machine()} {platform.processor() or ''} {available_cpus()} cores, Python {platform.python_version()}",
    }


def write_results(name: str, result: dict, table: str) -> Path:
    """bench/results/<name>.json and .md; returns the markdown file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(table, encoding="utf-8")
    return RESULTS / f"{name}.md"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passage_ranking(sources: list[str], n: int = 10) -> list[str]:
    """Chunk hits → passage ids in first-seen order (a passage is one file named <id>.txt)."""
    ranked: list[str] = []
    for source in sources:
        pid = Path(source).stem
        if pid not in ranked:
            ranked.append(pid)
    return ranked[:n]


def retrieval_metrics(rankings: list[list[str]], golds: list[str]) -> dict:
    ranks = [r.index(g) + 1 if g in r else None for r, g in zip(rankings, golds)]
    n = len(ranks)
    return {
        "R@1": round(sum(r == 1 for r in ranks) / n, 4),
        "R@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "R@10": round(sum(r is not None and r <= 10 for r in ranks) / n, 4),
        "MRR@10": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def query_group(query_id: str) -> str:
    """drcd / zh / en / en2zh / zh2en from the query id (XQuAD ids carry their direction as a prefix)."""
    head = query_id.split("-", 1)[0]
    return head if head in ("zh", "en", "en2zh", "zh2en") else "drcd"


def parallel_twin(passage_id: str) -> str | None:
    """The other language's version of an XQuAD paragraph (xquad-a00-p00-en <-> -zh)."""
    if passage_id.startswith("xquad-"):
        return passage_id[:-2] + ("zh" if passage_id.endswith("en") else "en")
    return None


def breakdown(queries: list[dict], rankings: list[list[str]], golds: list[str]) -> dict:
    """Metrics per query group, and R@1 counting the gold paragraph in either language: in the mixed
    index en and en2zh queries are the same English question with the en or the zh paragraph as gold,
    so strict R@1 cannot exceed 1 - en2zh share (0.832 on the full file)."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(query_group(q["id"]), []).append(i)
    out = {
        g: {"queries": len(ix), **retrieval_metrics([rankings[i] for i in ix], [golds[i] for i in ix])}
        for g, ix in groups.items()
    }
    either = [r[:1] and (r[0] == g or r[0] == parallel_twin(g)) for r, g in zip(rankings, golds)]
    out["R@1 either language"] = round(sum(bool(x) for x in either) / len(either), 4)
    return out


def write_corpus(corpus: list[dict], folder: Path) -> None:
    """Each passage becomes a file the real ingest path reads; its title is its first line."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for p in corpus:
        text = f"{p['title']}\n\n{p['text']}" if p.get("title") else p["text"]
        (folder / f"{p['id']}.txt").write_text(text, encoding="utf-8")


class NaiveLangChain:
    """The baseline everyone starts from: 1000/200 character splits, one embedder, Chroma top-k."""

    def __init__(self, embedder, folder: Path):
        from langchain_chroma import Chroma
        from langchain_core.embeddings import Embeddings

        class Adapter(Embeddings):
            def embed_documents(self, texts):
                return embedder.embed_passages(texts).tolist()

            def embed_query(self, text):
                return embedder.embed_queries([text])[0].tolist()

        if folder.exists():
            shutil.rmtree(folder)
        self.store = Chroma(
            collection_name="naive",
            embedding_function=Adapter(),
            persist_directory=str(folder),
            collection_metadata={"hnsw:space": "cosine"},
        )

    def index(self, corpus: list[dict]) -> int:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        texts, metas = [], []
        for p in corpus:
            full = f"{p['title']}\n\n{p['text']}" if p.get("title") else p["text"]
            for piece in splitter.split_text(full):
                texts.append(piece)
                metas.append({"source": f"{p['id']}.txt"})
        for start in range(0, len(texts), 256):
            self.store.add_texts(texts[start : start + 256], metadatas=metas[start : start + 256])
        return len(texts)

    def sources(self, question: str, k: int) -> list[str]:
        return [d.metadata["source"] for d in self.store.similarity_search(question, k=k)]


def bench_seeds(report: dict) -> None:
    """Index seeds/ from scratch, then latency and dev.jsonl metrics."""
    home = WORK / "seeds"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copytree(REPO / "seeds", home / "seeds")
    nb = Notebook(path=home / ".rag", home=home)
    t = time.perf_counter()
    _ = nb.embedder  # model load is reported apart from indexing
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    rep = nb.index(home / "seeds", progress=False)
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    again = nb.index(home / "seeds", progress=False)
    reindex_s = time.perf_counter() - t
    questions = load_questions(REPO / "tests" / "data" / "dev.jsonl")
    nb.search(questions[0]["question"])  # warm
    search_ms, ask_ms = [], []
    for _ in range(3):
        for q in questions:
            t = time.perf_counter()
            nb.search(q["question"])
            search_ms.append((time.perf_counter() - t) * 1000)
    for q in questions:
        t = time.perf_counter()
        nb.ask(q["question"])
        ask_ms.append((time.perf_counter() - t) * 1000)
    dev = evaluate(nb, questions, k=5, answers=True)
    report["seeds"] = {
        "model_load_s": round(load_s, 2),
        "index_s": round(index_s, 2),
        "chunks": rep.chunks,
        "chunks_per_s": round(rep.embedded / index_s, 1),
        "reindex_unchanged_s": round(reindex_s, 2),
        "reindex_embedded": again.embedded,
        "search_ms_p50": round(statistics.median(search_ms), 1),
        "search_ms_p95": round(percentile(search_ms, 0.95), 1),
        "ask_ms_p50": round(statistics.median(ask_ms), 1),
        "ask_ms_p95": round(percentile(ask_ms, 0.95), 1),
    }
    report["dev"] = {"retrieval": dev["retrieval"], "answers": dev["answers"]}
    print(json.dumps(report["seeds"]), flush=True)


def bench_embedders(report: dict) -> None:
    """Embedding throughput alone on the seed chunks (mixed zh/en, up to 256 tokens each): the int8 ONNX
    e5 the notebook uses, the torch fp32 e5 it replaces, USE, and both fused as indexed."""
    from rag.embed.transformer import TransformerEmbedder

    nb = Notebook(path=WORK / "seeds" / ".rag", home=WORK / "seeds")
    texts = list(nb.texts())
    if not texts:
        return
    # The notebook's own embedders (as its settings build them), plus the torch fp32 e5 for comparison.
    candidates = {
        f"e5 {nb.embedder.backend}": nb.embedder,
        "e5 torch fp32": TransformerEmbedder(nb.settings.embedder_path()),
    }
    for part, _ in getattr(nb.dense_embedder, "parts", ()):
        part = getattr(part, "embedder", part)  # the model under the notebook's question memo
        if part is not nb.embedder:
            candidates[part.name] = part
    if nb.dense_embedder is not nb.embedder:
        candidates["fused (as indexed)"] = nb.dense_embedder
    rows = {}
    for name, embedder in candidates.items():
        embedder.embed_passages(texts[:16])  # warm
        t = time.perf_counter()
        embedder.embed_passages(texts)
        rows[name] = round(len(texts) / (time.perf_counter() - t), 1)
    report["embedding_chunks_per_s"] = {"chunks": len(texts), **rows}
    print(json.dumps(report["embedding_chunks_per_s"]), flush=True)


def bench_sets(report: dict, names: list[str], full: bool, naive: bool) -> None:
    indexes: dict[str, tuple] = {}
    for name in names:
        corpus_name = SETS[name]
        if corpus_name not in indexes:
            corpus = read_jsonl(DATA / corpus_name / "corpus.jsonl")
            home = WORK / corpus_name
            write_corpus(corpus, home / "docs")
            if (home / ".rag").exists():
                shutil.rmtree(home / ".rag")
            nb = Notebook(path=home / ".rag", home=home)
            _ = nb.embedder  # loaded before the clock starts
            t = time.perf_counter()
            rep = nb.index(home / "docs", progress=False)
            ours_s = time.perf_counter() - t
            row = {
                "passages": len(corpus),
                "chunks": rep.chunks,
                "index_s": round(ours_s, 1),
                "chunks_per_s": round(rep.embedded / ours_s, 1),
            }
            baseline = None
            if naive:
                baseline = NaiveLangChain(nb.embedder, home / "naive")
                t = time.perf_counter()
                n_chunks = baseline.index(corpus)
                naive_s = time.perf_counter() - t
                row["naive"] = {
                    "chunks": n_chunks,
                    "index_s": round(naive_s, 1),
                    "chunks_per_s": round(n_chunks / naive_s, 1),
                }
            indexes[corpus_name] = (nb, baseline, row)
            report.setdefault("indexing", {})[corpus_name] = row
            print(corpus_name, json.dumps(row), flush=True)
        nb, baseline, _ = indexes[corpus_name]
        use_full = full or name in FULL_BY_DEFAULT
        queries = read_jsonl(DATA / name / ("queries.jsonl" if use_full else "queries.sample200.jsonl"))
        golds = [q["gold_passage_ids"][0] for q in queries]
        latencies, rankings = [], []
        nb.search(queries[0]["question"], k=30)  # warm
        for q in queries:
            t = time.perf_counter()
            hits = nb.search(q["question"], k=30)
            latencies.append((time.perf_counter() - t) * 1000)
            rankings.append(passage_ranking([h.source for h in hits]))
        row = {
            "queries": len(queries),
            "file": "full" if use_full else "sample200",
            **retrieval_metrics(rankings, golds),
        }
        row["search_ms_p50"] = round(statistics.median(latencies), 1)
        row["search_ms_p95"] = round(percentile(latencies, 0.95), 1)
        if len({query_group(q["id"]) for q in queries}) > 1:
            row["groups"] = breakdown(queries, rankings, golds)
        if baseline is not None:
            naive_rank = [passage_ranking(baseline.sources(q["question"], 30)) for q in queries]
            row["naive"] = retrieval_metrics(naive_rank, golds)
            if "groups" in row:
                row["naive"]["groups"] = breakdown(queries, naive_rank, golds)
        report.setdefault("retrieval", {})[name] = row
        print(name, json.dumps(row), flush=True)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def markdown(report: dict) -> str:
    lines = [f"# Benchmark {report['when']} — commit {report['commit']}", "", f"Machine: {report['machine']}", ""]
    if "seeds" in report:
        s = report["seeds"]
        lines += ["## Seeds (5 files)", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in s.items()]
        r, a = report["dev"]["retrieval"]["all"], report["dev"]["answers"]
        lines += [
            "",
            f"dev.jsonl answerable ({r['n']}): R@1 {r['r1']}, R@5 {r['r5']}, MRR {r['mrr']}, evidence share {r['evidence_share']}",
            (
                f"dev.jsonl answers: fact recall {a['all']['fact_recall']}, citation precision "
                f"{a['all']['citation_precision']}, refusal accuracy on unanswerable "
                f"{a['refusal_accuracy_unanswerable']}, false refusals {a['false_refusals']}"
            ),
            "",
        ]
    if "embedding_chunks_per_s" in report:
        e = report["embedding_chunks_per_s"]
        lines += [
            f"## Embedding alone ({e['chunks']} seed chunks, chunks/s)",
            "",
            "| embedder | chunks/s |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v} |" for k, v in e.items() if k != "chunks"]
        lines += [""]
    if "retrieval" in report:
        lines += ["## Retrieval (passage level; naive = LangChain 1000/200 + same embedder + Chroma)", ""]
        lines += [
            "| set | queries | R@1 | R@5 | R@10 | MRR@10 | naive R@5 | R@5 ratio | p50 ms | p95 ms |",
            "|---" * 10 + "|",
        ]
        for name, r in report["retrieval"].items():
            nv = r.get("naive", {})
            lines.append(
                f"| {name} | {r['queries']} ({r['file']}) | {r['R@1']} | {r['R@5']} | {r['R@10']} | {r['MRR@10']} | "
                f"{nv.get('R@5', '—')} | {ratio(r['R@5'], nv['R@5']) if nv else '—'} | {r['search_ms_p50']} | {r['search_ms_p95']} |"
            )
        for name, r in report["retrieval"].items():
            if "groups" in r:
                g = r["groups"]
                lines += ["", f"{name} by query group (R@1 / R@5; naive R@1 in brackets):", ""]
                naive_groups = r.get("naive", {}).get("groups", {})
                for group, m in g.items():
                    if isinstance(m, dict):
                        nv = naive_groups.get(group, {}).get("R@1", "—")
                        lines.append(f"- {group} ({m['queries']}): {m['R@1']} / {m['R@5']} ({nv})")
                lines.append(
                    f"- R@1 counting the gold paragraph in either language: {g['R@1 either language']} "
                    f"({naive_groups.get('R@1 either language', '—')})"
                )
        lines += [
            "",
            "## Indexing",
            "",
            "| corpus | passages | chunks | s | chunks/s | naive chunks | naive s | naive chunks/s |",
            "|---" * 8 + "|",
        ]
        for name, r in report["indexing"].items():
            nv = r.get("naive", {})
            lines.append(
                f"| {name} | {r['passages']} | {r['chunks']} | {r['index_s']} | {r['chunks_per_s']} | "
                f"{nv.get('chunks', '—')} | {nv.get('index_s', '—')} | {nv.get('chunks_per_s', '—')} |"
            )
    lines += ["", f"Peak RSS: {report['peak_rss_mb']:.0f} MB", ""]
    lines += ["Data: DRCD (CC BY-SA 3.0), CMRC 2018 and XQuAD (CC BY-SA 4.0); see ../shared/data/SOURCES.md.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated external sets ('' for none)")
    ap.add_argument("--full", action="store_true", help="full query files instead of queries.sample200.jsonl")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive LangChain baseline")
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds/dev.jsonl part")
    ap.add_argument("--no-embedders", action="store_true", help="skip the embedding-throughput comparison")
    ap.add_argument("--tag", default="", help="suffix for the result files")
    args = ap.parse_args(argv)
    go_offline()  # before any model loads (importing this module loads none)
    report = run_header()
    if not args.no_seeds:
        bench_seeds(report)
        if not args.no_embedders:
            bench_embedders(report)
    names = [n for n in args.sets.split(",") if n]
    if names:
        if not DATA.exists():
            raise SystemExit(f"{DATA}: benchmark data not found (../shared/data/bench)")
        bench_sets(report, names, args.full, not args.no_naive)
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    write_results(f"bench-{report['commit']}{'-' + args.tag if args.tag else ''}", report, markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
