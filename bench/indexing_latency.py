"""Question latency while a large upload is indexed in the background (issue 13 point 6), against idle latency.

Before this change the page ran an upload and the questions one at a time: a question asked during an upload
waited for all of it (the whole indexing time below). Now the upload runs in a background thread and questions
are answered from the committed index meanwhile. The run measures questions for --seconds of the indexing, then
stops it (the file is finished by a later run), so it stays short whatever the file size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from rag import Notebook
from rag.offline import go_offline
from ui.session import BackgroundIndexer

QUESTIONS = ["TPU能否取代GPU?", "亞馬遜機房裡最多的CPU是哪種?", "how profitable is the DRAM business over a cycle?"]
WORDS = "chip memory bandwidth model training inference market cost accelerator cluster power cooling".split()  # noqa: SIM905
HAN = "晶片記憶體頻寬模型訓練推理市場成本加速器叢集電力散熱供應鏈需求"


def big_text(size: int, rng: random.Random) -> str:
    """Paragraphs of English and Chinese sentences, about `size` bytes of UTF-8."""
    parts, total = [], 0
    while total < size:
        english = " ".join(rng.choice(WORDS) for _ in range(40)) + "."
        chinese = "".join(rng.choice(HAN) for _ in range(60)) + "。"
        parts.append(f"{english} {chinese}")
        total += len(parts[-1].encode())
    return "\n\n".join(parts)


def latencies(nb: Notebook, seconds: float, until=None) -> list[float]:
    """Ask the questions in turn for `seconds` (or until `until()` is false): each answer's wall time."""
    out: list[float] = []
    end = time.time() + seconds
    i = 0
    while time.time() < end and (until is None or until()):
        began = time.perf_counter()
        nb.ask(QUESTIONS[i % len(QUESTIONS)])
        out.append(time.perf_counter() - began)
        i += 1
    return out


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<34} {'-':>5}"
    p95 = sorted(values)[max(0, int(0.95 * len(values)) - 1)]
    return f"{label:<34} {len(values):>5} {statistics.median(values):>8.2f} {p95:>8.2f} {max(values):>8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=1.0, help="size of the uploaded file in MB (the issue's case: 5)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to ask questions during the indexing")
    args = parser.parse_args()
    go_offline()
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        nb = Notebook(path=home / ".rag", home=home)
        nb.index(repo / "seeds", progress=False)
        nb.ask(QUESTIONS[0])  # models loaded
        upload = home / "uploads" / "big.md"
        upload.parent.mkdir()
        upload.write_text(big_text(int(args.mb * 1_000_000), random.Random(5)), encoding="utf-8")
        idle = latencies(nb, 15)
        indexer = BackgroundIndexer(nb)
        began = time.time()
        embedding_began: list[float] = []  # when the chunks were counted and their embedding started

        def watch() -> None:
            while indexer.busy() and not embedding_began:
                if indexer.total:
                    embedding_began.append(time.time())
                time.sleep(0.1)

        indexer.submit(upload.name, [upload])
        threading.Thread(target=watch, daemon=True).start()
        busy = latencies(nb, args.seconds, until=indexer.busy)
        done, total = indexer.done, indexer.total
        ended = time.time()
        indexer.stop(timeout=60)
    print(
        f"upload: {args.mb:g} MB, {total or '?'} chunks to embed; {done} embedded in the {ended - began:.0f} s measured"
    )
    print(f"{'questions (seconds)':<34} {'n':>5} {'median':>8} {'p95':>8} {'max':>8}")
    print(row("idle", idle))
    print(row("while the upload is indexed", busy))
    if embedding_began and done:
        prepare = embedding_began[0] - began
        embed = (ended - embedding_began[0]) * total / done
        print(
            f"blocking (before): a question asked with the upload waited for all of it: about {prepare + embed:.0f} s here "
            f"(reading and chunking {prepare:.0f} s, embedding {total} chunks at the rate measured {embed:.0f} s)"
        )


if __name__ == "__main__":
    main()
