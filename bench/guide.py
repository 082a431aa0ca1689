"""What source guides add to indexing: seeds/ indexed into a fresh notebook with guides off, then the guides built
(rag.guide: LexRank over e5 sentence vectors, key terms, questions), then an update with nothing to do.

    .venv/bin/python -m bench.guide [--repeat 2] [--out bench/results/guide.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import report
from rag import Notebook
from rag.offline import go_offline

REPO = Path(__file__).resolve().parents[1]


def one_run(seeds: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shutil.copytree(seeds, home / "seeds")
        nb = Notebook(path=home / ".rag", home=home, source_guides=False)
        nb.dense_embedder.embed_passages(["warm-up"])  # the models load outside the timings
        started = time.perf_counter()
        indexed_report = nb.index(home / "seeds", progress=False)
        indexed = time.perf_counter() - started
        started = time.perf_counter()
        built = nb.guides.update()
        guides = time.perf_counter() - started
        started = time.perf_counter()
        again = nb.guides.update()
        unchanged = time.perf_counter() - started
        assert built == indexed_report.added and again == 0
        return {
            "documents": indexed_report.added,
            "chunks": indexed_report.chunks,
            "index_s": indexed,
            "guides_s": guides,
            "noop_s": unchanged,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=2, help="fresh notebooks to index (the first also loads jieba's tagger)"
    )
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = parser.parse_args()
    go_offline()
    runs = [one_run(args.seeds) for _ in range(args.repeat)]
    lines = [
        "# Source guides: added index time on seeds/",
        "",
        "| run | documents | chunks | index (guides off) s | guides s | added | update, nothing changed s |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(runs, 1):
        lines.append(
            f"| {i} | {r['documents']} | {r['chunks']} | {r['index_s']:.1f} | {r['guides_s']:.1f} | "
            f"{r['guides_s'] / r['index_s']:.0%} | {r['noop_s']:.2f} |"
        )
    median = statistics.median(r["guides_s"] / r["index_s"] for r in runs)
    lines += ["", f"Median added share: {median:.0%} of the index time."]
    report(lines, args.out)


if __name__ == "__main__":
    main()
