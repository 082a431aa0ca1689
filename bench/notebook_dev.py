"""`make bench-notebook-dev`: answers over the authored development set (tests/data/notebook_dev, issue 31 point 5).

The set's documents (interviews, news, blog and forum posts in 繁體, 简体 and English) are indexed into a fresh
notebook with the product's embedders; every question is asked through `Notebook.ask`. Reported per split (dev,
test), per genre, per question language and per kind: answerable questions → answered / partial / not_found,
the share of key facts the answer shows, a key fact in its first sentence; unanswerable ones → each status; p50
ask latency. `Answer.status` where the product has it, else `refused` read as not_found.

The dev split may be looked at freely (its per-question rows are written to the json); the test split is scored
once per change you mean to keep and only its totals are written. Documents and questions were written for this
project (CC BY 4.0, tests/data/notebook_dev/LICENSE.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rag.offline import go_offline

go_offline()

from bench.run import percentile, run_header, write_results  # after go_offline(): nothing may call out
from rag.evaluate import fact_form
from rag.text.sentences import sentence_spans

REPO = Path(__file__).resolve().parents[1]
DEV_SET = REPO / "tests" / "data" / "notebook_dev"
STATUSES = ("answered", "partial", "not_found")
SPLITS = ("dev", "test")
# The targets for this set (issue 31, "Figures to reach").
TARGETS = "key facts shown ≥ 0.85; answerable not_found = 0; unanswerables answered ≤ 2"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_set(folder: Path = DEV_SET) -> tuple[list[dict], dict[str, dict]]:
    """(questions, documents by file name) of the development set."""
    documents = {d["doc"]: d for d in read_jsonl(folder / "documents.jsonl")}
    return read_jsonl(folder / "questions.jsonl"), documents


def split_of(question: dict, documents: dict[str, dict]) -> str:
    """The split rule (README): a genre's documents sorted by file name alternate dev, test, dev ...; every
    question goes with its document; off-topic questions (no document) alternate by their number, odd → dev."""
    if question["doc"] is None:
        return "dev" if int(question["id"].rsplit("-", 1)[1]) % 2 == 1 else "test"
    genre = documents[question["doc"]]["genre"]
    same = sorted(name for name, d in documents.items() if d["genre"] == genre)
    return SPLITS[same.index(question["doc"]) % 2]


def genre_folds(questions: list[dict], split: str = "dev") -> dict[str, tuple[list[dict], list[dict]]]:
    """Leave one genre out within one split: genre -> (the other genres' questions, to choose cuts on; the genre's
    own, to measure on). Off-topic questions belong to no genre: they go with the choosing side of every fold."""
    mine = [q for q in questions if q["split"] == split]
    genres = sorted({q["genre"] for q in mine} - {"off-topic"})
    return {g: ([q for q in mine if q["genre"] != g], [q for q in mine if q["genre"] == g]) for g in genres}


def _fact_pattern(fact: str) -> re.Pattern[str]:
    """A key fact in the compared form; a number in it must not be part of a longer one (5 元 is not in 15 元)."""
    form = fact_form(fact)
    before = r"(?<![0-9.,])" if form[:1].isdigit() else ""
    after = r"(?![0-9])" if form[-1:].isdigit() else ""
    return re.compile(before + re.escape(form) + after)


def facts_shown(facts: list[str], text: str) -> float:
    """Share of key facts the text contains, compared in either Chinese script, case and spacing ignored."""
    flat = fact_form(text)
    return sum(bool(_fact_pattern(f).search(flat)) for f in facts) / len(facts) if facts else 0.0


def first_sentence(text: str) -> str:
    spans = sentence_spans(text)
    return text[spans[0][0] : spans[0][1]] if spans else ""


def status_of(answer) -> str:
    """answered / partial / not_found: the answer's own status, else its refusal read as not_found."""
    status = getattr(answer, "status", None)
    return str(getattr(status, "value", status)) if status else ("not_found" if answer.refused else "answered")


def build_notebook(home: Path, with_seeds: bool = False):
    """A fresh notebook in `home` holding the set's documents, indexed with the product's embedders; with
    `with_seeds`, seeds/ beside them as distractors (a fuller notebook: more passages near every question)."""
    from rag import Notebook

    shutil.copytree(DEV_SET / "docs", home / "docs")
    folders = [home / "docs"]
    if with_seeds:
        shutil.copytree(REPO / "seeds", home / "seeds")
        folders.append(home / "seeds")
    nb = Notebook(path=home / ".rag", home=home)
    report = nb.index(*folders, progress=False)
    if report.errors:
        raise SystemExit("could not index: " + "; ".join(report.errors))
    return nb


def ask_all(nb, questions: list[dict]) -> list[dict]:
    nb.ask(questions[0]["question"])  # warm: models, glossary, jieba
    rows = []
    for q in questions:
        t = time.perf_counter()
        answer = nb.ask(q["question"])
        ms = (time.perf_counter() - t) * 1000
        rows.append(
            {
                **{k: q[k] for k in ("id", "split", "genre", "lang", "kind", "answerable", "doc", "cross_language")},
                "status": status_of(answer),
                "own_status": getattr(answer, "status", None) is not None,
                "facts_shown": facts_shown(q["key_facts"], answer.text),
                "first_sentence": facts_shown(q["key_facts"], first_sentence(answer.text)) > 0,
                "cited_doc": bool(q["doc"]) and any(Path(c.source).name == q["doc"] for c in answer.citations),
                # the gold document among the passages the answer was made from: a not_found then is the gate's
                "gold_retrieved": bool(q["doc"]) and any(Path(h.source).name == q["doc"] for h in answer.hits),
                "ms": round(ms, 1),
                "question": q["question"],
                "answer": answer.text[:400],
            }
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    """Statuses, key facts and latency of a group of answered questions."""
    yes = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]

    def share(n: int, of: list) -> float | None:
        return round(n / len(of), 3) if of else None

    out: dict = {"questions": len(rows), "answerable": len(yes), "unanswerable": len(no)}
    counted = Counter(r["status"] for r in yes)
    for s in STATUSES:
        out[f"answerable_{s}"] = share(counted[s], yes)
    out["answerable_not_found_n"] = counted["not_found"]
    out["not_found_gold_retrieved_n"] = sum(r["status"] == "not_found" and r["gold_retrieved"] for r in yes)
    out["gold_retrieved"] = share(sum(r["gold_retrieved"] for r in yes), yes)
    out["facts_shown"] = round(statistics.mean(r["facts_shown"] for r in yes), 3) if yes else None
    out["all_facts_shown"] = share(sum(r["facts_shown"] == 1.0 for r in yes), yes)
    out["first_sentence"] = share(sum(r["first_sentence"] for r in yes), yes)
    out["gold_doc_cited"] = share(sum(r["cited_doc"] for r in yes), yes)
    counted = Counter(r["status"] for r in no)
    for s in STATUSES:
        out[f"unanswerable_{s}"] = share(counted[s], no)
    out["unanswerable_answered_n"] = counted["answered"]
    ms = [r["ms"] for r in rows]
    out["ask_ms_p50"] = round(statistics.median(ms), 1) if ms else None
    out["ask_ms_p90"] = round(percentile(ms, 0.9), 1) if ms else None
    return out


def breakdown(rows: list[dict]) -> dict:
    """Per split: all, then per genre, question language, kind, and cross-language or not."""
    result = {}
    for split in SPLITS:
        mine = [r for r in rows if r["split"] == split]
        if not mine:
            continue
        groups = {"all": mine}
        for key in ("genre", "lang", "kind"):
            for value in sorted({r[key] for r in mine}):
                groups[f"{key}={value}"] = [r for r in mine if r[key] == value]
        groups["cross-language"] = [r for r in mine if r["cross_language"]]
        result[split] = {name: summarise(group) for name, group in groups.items()}
    return result


def _cell(value) -> str:
    return "" if value is None else str(value)


def markdown(report: dict) -> str:
    head = report["header"]
    lines = [
        "# Notebook development set (tests/data/notebook_dev): answers through Notebook.ask",
        "",
        (
            f"{head['when']}, commit {head['commit']}, {head['machine']}. Command: `{report['command']}`. "
            f"{report['documents']} documents (distractors: {report['distractors']}), {report['chunks']} chunks; "
            f"status from {report['status_source']}."
        ),
        f"Targets (issue 31): {TARGETS}.",
        "",
    ]
    columns = [
        ("n", "answerable"),
        ("answered", "answerable_answered"),
        ("partial", "answerable_partial"),
        ("not_found", "answerable_not_found"),
        ("facts shown", "facts_shown"),
        ("1st sentence", "first_sentence"),
        ("gold retrieved", "gold_retrieved"),
        ("gold cited", "gold_doc_cited"),
        ("unans. n", "unanswerable"),
        ("→ answered", "unanswerable_answered"),
        ("→ partial", "unanswerable_partial"),
        ("→ not_found", "unanswerable_not_found"),
        ("p50 ms", "ask_ms_p50"),
    ]
    for split, groups in report["splits"].items():
        total = groups["all"]
        lines += [
            f"## {split} split",
            "",
            (
                f"Key facts shown {total['facts_shown']}; answerable not_found {total['answerable_not_found_n']} of "
                f"{total['answerable']} ({total['not_found_gold_retrieved_n']} with the gold document retrieved); "
                f"unanswerables answered {total['unanswerable_answered_n']} of "
                f"{total['unanswerable']}; p50 ask {total['ask_ms_p50']} ms."
            ),
            "",
            "| group | " + " | ".join(c for c, _ in columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for name, g in groups.items():
            lines.append(f"| {name} | " + " | ".join(_cell(g[k]) for _, k in columns) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=[*SPLITS, "both"], default="both", help="which split to ask (default both)")
    ap.add_argument("--name", default="notebook_dev", help="result file name under bench/results/")
    ap.add_argument("--with-seeds", action="store_true", help="index seeds/ beside the documents as distractors")
    args = ap.parse_args(argv)
    questions, documents = load_set()
    if args.split != "both":
        questions = [q for q in questions if q["split"] == args.split]
    with tempfile.TemporaryDirectory(prefix="notebook-dev-") as tmp:
        nb = build_notebook(Path(tmp), with_seeds=args.with_seeds)
        rows = ask_all(nb, questions)
        chunks = nb.count()
    own_status = all([r.pop("own_status") for r in rows])  # noqa: C419 (every row loses the key, no short cut)
    report = {
        "header": run_header(),
        "command": " ".join(["python -m bench.notebook_dev", *(argv if argv is not None else sys.argv[1:])]),
        "documents": len(documents),
        "distractors": "seeds/" if args.with_seeds else "none",
        "chunks": chunks,
        "status_source": "Answer.status" if own_status else "Answer.refused (no Answer.status)",
        "splits": breakdown(rows),
        # Only the dev split's questions one by one: the test split is for scoring, not for reading answers off.
        "dev_rows": [r for r in rows if r["split"] == "dev"],
    }
    path = write_results(args.name, report, markdown(report))
    print(markdown(report))
    print(f"written: {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
