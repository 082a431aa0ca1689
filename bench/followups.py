"""Follow-ups rewritten without an LLM (rag.followup): does the rewrite retrieve what its standalone question does?

Over the seeds, for each pair in tests/data/followups.jsonl: the top-3 hits of the written standalone question, of
the rule rewrite, and of the follow-up as typed. Same evidence = the same set of sources among the top 3 hits;
the chunk share is the share of the standalone question's top-3 chunks that the rewrite also retrieves.
Pairs without a "split" are the dev pairs the rules were written against; "split": "test" pairs were written
after the rules and scored once.

    .venv/bin/python -m bench.followups [--out bench/results/followups.md]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from bench import report
from rag import Notebook
from rag.followup import standalone_question
from rag.offline import go_offline

REPO = Path(__file__).resolve().parents[1]
PAIRS = REPO / "tests" / "data" / "followups.jsonl"
K = 3


def load_pairs(path: Path = PAIRS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def top(nb: Notebook, question: str) -> tuple[set[str], set[str]]:
    hits = nb.search(question, K)
    return {h.source for h in hits}, {h.chunk_id for h in hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = parser.parse_args()
    go_offline()
    pairs = load_pairs()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shutil.copytree(REPO / "seeds", home / "seeds")
        nb = Notebook(path=home / ".rag", home=home)
        nb.index(home / "seeds", progress=False)
        rows, by_script = [], {}
        for p in pairs:
            rewritten = standalone_question(p["question"], p["history"])
            gold_sources, gold_chunks = top(nb, p["standalone"])
            row = {
                "script": p["script"],
                "question": p["question"],
                "rewritten": rewritten,
                "standalone": p["standalone"],
            }
            for name, q in (("rewrite", rewritten), ("raw", p["question"])):
                sources, chunks = top(nb, q)
                row[f"{name}_same"], row[f"{name}_chunks"] = sources == gold_sources, len(chunks & gold_chunks) / K
            rows.append(row)
            split = p.get("split", "dev")
            row["split"] = split
            by_script.setdefault(f"{split} {p['script']}", []).append(row)

    def share(rs: list[dict], key: str) -> float:
        return sum(float(r[key]) for r in rs) / len(rs)

    lines = [
        f"# Follow-ups without an LLM: same evidence as the standalone question (top-{K}, seeds)",
        "",
        "| pairs | split, script | rewrite: same sources | rewrite: chunk share | as typed: same sources | as typed: chunk share |",
        "|---|---|---|---|---|---|",
    ]
    splits = [(f"{split} all", [r for r in rows if r["split"] == split]) for split in ("dev", "test")]
    for script, rs in [*sorted(by_script.items()), *[(name, rs) for name, rs in splits if rs]]:
        lines.append(
            f"| {len(rs)} | {script} | {share(rs, 'rewrite_same'):.2f} | {share(rs, 'rewrite_chunks'):.2f} | "
            f"{share(rs, 'raw_same'):.2f} | {share(rs, 'raw_chunks'):.2f} |"
        )
    lines += [
        "",
        "| split | follow-up | rewritten | standalone (written) | same sources | chunks |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['split']} | {r['question']} | {r['rewritten']} | {r['standalone']} | {'yes' if r['rewrite_same'] else 'no'} | "
        f"{r['rewrite_chunks']:.2f} |"
        for r in rows
    ]
    report(lines, args.out)


if __name__ == "__main__":
    main()
