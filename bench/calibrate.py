"""Calibration tables for the answer thresholds, printed for a person to read (not run by `make bench`).

- `python -m bench.calibrate verify [tests/data/dev.jsonl]`: support scores of the dev reference answers'
  sentences, against their evidence chunk and against the best chunk of another document: where
  verify_min_overlap / verify_min_similarity separate the two (rag/answer/verify.py).
- `python -m bench.calibrate refusal [tests/data/dev.jsonl]`: the learned gate's probability (and its cut) for the
  dev questions and for off-topic ones, beside the best sentence's probability, similarity and coverage.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.answer.features import coverage
from rag.answer.verify import Verifier, is_claim
from rag.evaluate import load_questions
from rag.offline import go_offline
from rag.text import is_chinese, keyword_tokens, sentence_spans

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "tests" / "data" / "dev.jsonl"
# Questions the seeds cannot answer, in both languages and scripts: the extractive answer must refuse them.
OFFTOPIC = [
    "如何烤出好吃的酸種麵包?", "What is the best hiking trail in the Alps?", "台北明天會下雨嗎?", "how do I renew my passport?",
    "周杰伦的新专辑叫什么?", "What is the capital of Australia?", "貓咪一天要睡多久?", "who won the 2022 world cup?",
    "怎么做红烧肉?", "What does TSMC's 2nm process cost per wafer?", "Apple 的 M4 晶片有幾個核心?", "特斯拉的自動駕駛出過幾次事故?",
]  # fmt: skip


def verify_scores(notebook, questions_path, embedder=None) -> list[dict]:
    """Support scores of dev reference-answer sentences: against the chunk that holds their evidence
    (should pass) and against the best chunk of another document (should fail)."""
    chunks = notebook.chunks(notebook.chunk_ids())
    docs_of = [c.meta["source"].rsplit("/", 1)[-1] for c in chunks]
    v = Verifier([c.text for c in chunks], embedder, min_overlap=0.0, min_similarity=-1.0)
    rows = []
    for q in load_questions(questions_path):
        docs = q.get("doc")
        if not docs or not q.get("reference_answer"):
            continue
        docs = [docs] if isinstance(docs, str) else docs
        own = [i for i, c in enumerate(chunks) if docs_of[i] in docs and any(e in c.text for e in q["evidence"])]
        other = [i for i in range(len(chunks)) if docs_of[i] not in docs]
        answer = q["reference_answer"]
        for a, b in sentence_spans(answer):
            claim = answer[a:b]
            if not own or not is_claim(claim):
                continue
            for label, pool in (("own", own), ("other", other)):
                checks = [(i, v.check(claim, [i])) for i in pool]
                i, top = max(checks, key=lambda t: t[1].strength)
                rows.append(
                    {
                        "id": q["id"],
                        "type": q["type"],
                        "pair": label,
                        "cross": is_chinese(claim) != is_chinese(chunks[i].text),
                        "overlap": round(top.overlap, 3),
                        "similarity": None if top.similarity is None else round(top.similarity, 3),
                        "missing_numbers": top.missing_numbers,
                        "claim": claim,
                    }
                )
    return rows


def print_verify(questions_path: Path) -> None:
    from rag.embed.use import UseEmbedder
    from rag.notebook import Notebook

    for r in verify_scores(Notebook(), questions_path, UseEmbedder()):
        sim = "" if r["similarity"] is None else f"{r['similarity']:.3f}"
        print(f"{r['id']} {r['pair']:5} {'cross' if r['cross'] else 'same ':5} overlap={r['overlap']:.3f} "
              f"sim={sim:5} missing={r['missing_numbers']} {r['claim'][:60]}")  # fmt: skip


def print_refusal(questions_path: Path, notebook_path: Path, seeds: Path) -> None:
    """One line per question: answerable (1/0), gate probability and cut, best sentence, coverage, dense similarity."""
    from rag.notebook import Notebook

    nb = Notebook(path=notebook_path)
    print(nb.index(seeds, progress=False).summary())
    rows = [(q["question"], bool(q["evidence"])) for q in load_questions(questions_path)]
    rows += [(q, False) for q in OFFTOPIC]
    a = nb.answerer
    for question, answerable in rows:
        hits = nb.search(question)
        asked = a.analyse(question, hits)
        scored = a.score(asked, hits, a.candidates(hits))
        best = scored[0]
        probability, cut = a.gate(asked, scored)
        cov_all = coverage(asked.own, set(keyword_tokens(" ".join(h.text for h in hits[:3]))))
        print(
            f"{int(answerable)} gate={probability:.3f}/{cut:.3f} score={best.score:.3f} sim={max(c.similarity for c in scored):.3f} "
            f"cov1={max(c.coverage for c in scored):.2f} cov3={cov_all:.2f} "
            f"dsim={max((h.dense_similarity or 0) for h in hits):.3f} {question[:50]}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("table", choices=("verify", "refusal"))
    ap.add_argument("questions", nargs="?", type=Path, default=DEV)
    ap.add_argument("--path", type=Path, default=Path(".rag-calib"), help="notebook folder (refusal)")
    ap.add_argument("--seeds", type=Path, default=REPO / "seeds", help="documents indexed first (refusal)")
    args = ap.parse_args(argv)
    go_offline()  # before any model loads (importing this module loads none)
    if args.table == "verify":
        print_verify(args.questions)
    else:
        print_refusal(args.questions, args.path, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
