"""`make bench-answers`: does the answerer answer when the documents hold the answer, refuse when they don't,
and answer across languages? Measured through the real Notebook on DRCD dev, CMRC 2018 dev and XQuAD (issue 12).

Per set, a development split (`--split dev`, the default: look as often as you like) and a test split
(`--split test`: scored once per change meant to be kept, reported beside dev), split by article
(bench.answer_data.split_questions); the test split never holds a question of the draw that tuned the cuts.
"Gold removed": the same question asked of the notebook as if its gold passage had never been indexed (a search
excluding its source, in the dense query and in BM25's statistics, and the answer's words weighed without it:
bench.answer_data.answer_without).
Data: DRCD (CC BY-SA 3.0, Shao et al. 2018), CMRC 2018 (CC BY-SA 4.0, Cui et al. 2019) and XQuAD
(CC BY-SA 4.0, Artetxe et al. 2019); all passages from Wikipedia; see ../shared/data/SOURCES.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.offline import go_offline

go_offline()

from bench.answer_data import (
    EVAL_SETS,
    REPO,
    SPLITS,
    WORK,
    answer_without,
    notebook,
    seeds_notebook,
    sources_by_passage,
    split_questions,
)
from bench.run import percentile, run_header, write_results
from rag.evaluate import evaluate, fact_form, load_questions
from rag.types import STATUSES


def gold_answers(q: dict) -> list[str]:
    """Every accepted answer string, in either language for the cross-lingual sets, in the compared form."""
    out = list(q["answers"]) + list(q.get("answers_en", [])) + list(q.get("answers_zh", []))
    return [a for a in dict.fromkeys(fact_form(a) for a in out) if a]


def contains(text: str, golds: list[str]) -> bool:
    flat = fact_form(text)
    return any(g in flat for g in golds)


def bench_set(name: str, split: str, n: int) -> dict:
    _, corpus = EVAL_SETS[name]
    nb = notebook(corpus)
    questions = split_questions(name, split, n)
    sources = sources_by_passage(nb)
    nb.ask(questions[0]["question"])  # warm: models, glossary
    rows, latencies = [], []
    for q in questions:
        gold = q["gold_passage_ids"][0]
        golds = gold_answers(q)
        t = time.perf_counter()
        answer = nb.ask(q["question"])
        latencies.append((time.perf_counter() - t) * 1000)
        first = answer.citations[0].quote if answer.citations else ""
        removed = answer_without(nb, q["question"], [sources[gold]])
        rows.append(
            {
                "id": q["id"],
                "gold_top5": any(Path(h.source).stem == gold for h in answer.hits[:5]),
                "status": answer.status,
                "contains": not answer.refused and contains(answer.text, golds),
                "first_sentence": not answer.refused and contains(first, golds),
                "removed_status": removed.status,
                # the answer is still in what is left (a sibling paragraph repeats it): refusing is not required
                "removed_still_holds": any(contains(h.text, golds) for h in removed.hits),
            }
        )

    def share(test, among=rows) -> float | None:
        return round(sum(map(test, among)) / len(among), 4) if among else None

    absent = [r for r in rows if not r["removed_still_holds"]]
    return {
        "questions": len(rows),
        "corpus": corpus,
        "gold_top5": share(lambda r: r["gold_top5"]),
        **{f"answerable_{s}": share(lambda r, s=s: r["status"] == s) for s in STATUSES},
        "contains_gold": share(lambda r: r["contains"]),
        "first_sentence_gold": share(lambda r: r["first_sentence"]),
        "removed_answer_absent_n": len(absent),
        **{f"removed_{s}": share(lambda r, s=s: r["removed_status"] == s, absent) for s in STATUSES},
        "ask_ms_p50": round(statistics.median(latencies), 1),
        "ask_ms_p95": round(percentile(latencies, 0.95), 1),
        "rows": rows,
    }


# Questions the seeds (posts on AI chips and the AI economy) do not touch, in both languages: each should be refused.
# Written while building the unknown-words refusal (issue 12), so a regression check, not a held-out measure.
OFF_TOPIC_SEEDS = [
    "What is the best hiking trail in the Alps?",
    "How do I bake sourdough bread?",
    "Who won the 2018 World Cup?",
    "What is the capital of Australia?",
    "How do I train a puppy to sit?",
    "What are the side effects of aspirin?",
    "Who painted the Mona Lisa?",
    "How do I fix a flat bicycle tire?",
    "How tall is Mount Everest?",
    "如何烤出好吃的酸種麵包?",
    "阿爾卑斯山最好的登山路線是哪條?",
    "周杰伦的新专辑叫什么?",
]


def bench_dev() -> dict:
    """`rag --path bench/work/answers/seeds/.rag eval tests/data/dev.jsonl --answers`, in process, plus ask latency."""
    nb = seeds_notebook()
    questions = load_questions(REPO / "tests" / "data" / "dev.jsonl")
    nb.ask(questions[0]["question"])  # warm
    latencies = []
    for q in questions:
        t = time.perf_counter()
        nb.ask(q["question"])
        latencies.append((time.perf_counter() - t) * 1000)
    report = evaluate(nb, questions, k=5, answers=True)
    off_topic_answered = [q for q in OFF_TOPIC_SEEDS if not nb.ask(q).refused]
    a = report["answers"]
    unanswerable = [r for r in report["rows"] if not r["answerable"]]
    return {
        "fact_recall": a["all"]["fact_recall"],
        "unanswerable_refused": f"{sum(r['refused'] for r in unanswerable)} of {len(unanswerable)}",
        "false_refusals": a["false_refusals"],
        "off_topic_refused": f"{len(OFF_TOPIC_SEEDS) - len(off_topic_answered)} of {len(OFF_TOPIC_SEEDS)}",
        "off_topic_answered": off_topic_answered,
        "ask_ms_p50": round(statistics.median(latencies), 1),
        "ask_ms_p95": round(percentile(latencies, 0.95), 1),
        "rows": [{k: r.get(k) for k in ("id", "refused", "fact_recall", "answer")} for r in report["rows"]],
    }


MEASURES = [
    ("gold_top5", "the passage holding the answer is in the top 5"),
    *((f"answerable_{s}", f"answerable → {s}") for s in STATUSES),
    ("contains_gold", "answer contains the gold answer span (either language)"),
    ("first_sentence_gold", "… in the answer's first sentence (the key span)"),
    ("removed_answer_absent_n", "gold passage removed, answer nowhere in what is left: questions"),
    *((f"removed_{s}", f"… → {s}") for s in STATUSES),
    ("ask_ms_p50", "`ask` ms p50"),
    ("ask_ms_p95", "`ask` ms p95"),
]


def markdown(report: dict) -> str:
    sets = report["sets"]
    columns = [(name, split) for name in sets for split in sets[name]]
    lines = [
        f"# Answer benchmark {report['when']} — commit {report['commit']}",
        "",
        f"Machine: {report['machine']}",
        "",
        (
            f"Command: `python -m bench.answers --split {report['split']}` (`make bench-answers`: the dev split). Each "
            "corpus indexed one passage per file through `Notebook.index`. Per set, up to "
            f"{report['per_set']} questions of each split drawn with seed 12 (bench.answer_data.split_questions): "
            "from queries.jsonl outside queries.sample200.jsonl (XQuAD: its odd-numbered articles only, the even "
            "ones train the answer model), split by article (crc32 of its name, odd: test); the test split never "
            "holds a question of the draw that tuned the cuts (seed 12, 200 per set, nor its XQuAD translations). "
            "Dev is looked at freely; test is scored once per change meant to be kept. "
            "A hit is a gold span inside the text after Traditional→Simplified, lower-casing and removing "
            "whitespace; cross-lingual sets accept either language's answers. Statuses: Answer.status. Gold "
            "removed: asked as if the gold passage had never been indexed (its source excluded from the dense query "
            "and from BM25's statistics, its words weighed without it)."
        ),
        "",
        "| measured | "
        + " | ".join(f"{name} {split} ({sets[name][split]['questions']})" for name, split in columns)
        + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for key, label in MEASURES:
        lines.append(f"| {label} | " + " | ".join(str(sets[name][split][key]) for name, split in columns) + " |")
    if "seeds" in report:
        d = report["seeds"]
        lines += [
            "",
            (
                "dev.jsonl (`rag --path <seeds notebook> eval tests/data/dev.jsonl --answers`): "
                f"fact recall {d['fact_recall']}, unanswerable refused {d['unanswerable_refused']}, "
                f"false refusals {d['false_refusals']}; seeds `ask` p50 {d['ask_ms_p50']} ms, p95 {d['ask_ms_p95']} ms"
            ),
        ]
        if "off_topic_refused" in d:
            answered = "; answered: " + ", ".join(d["off_topic_answered"]) if d["off_topic_answered"] else ""
            lines += [
                "",
                f"Off-topic questions over the seeds (bench.answers.OFF_TOPIC_SEEDS): refused {d['off_topic_refused']}{answered}",
            ]
    lines += [
        "",
        (
            "Data: DRCD (CC BY-SA 3.0, Shao et al. 2018, arXiv:1806.00920), CMRC 2018 (CC BY-SA 4.0, Cui et al., "
            "EMNLP-IJCNLP 2019) and XQuAD (CC BY-SA 4.0, Artetxe et al. 2019, arXiv:1910.11856); passages from "
            "Wikipedia; see ../shared/data/SOURCES.md."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(EVAL_SETS), help="comma-separated sets ('' for none)")
    ap.add_argument(
        "--split", choices=[*SPLITS, "both"], default="dev", help="dev: look freely; test: once per kept change"
    )
    ap.add_argument("-n", type=int, default=200, help="questions per set and split (at most)")
    ap.add_argument("--no-seeds", action="store_true", help="skip dev.jsonl on the seeds")
    ap.add_argument("--tag", default="", help="suffix for the result files")
    args = ap.parse_args(argv)
    report = run_header()
    report["sets"] = {}
    report["per_set"] = args.n
    report["split"] = args.split
    splits = SPLITS if args.split == "both" else (args.split,)
    rows = {}
    for name in [s for s in args.sets.split(",") if s]:
        report["sets"][name] = {}
        for split in splits:
            t = time.perf_counter()
            result = bench_set(name, split, args.n)
            rows[f"{name}-{split}"] = result.pop("rows")
            report["sets"][name][split] = result
            print(name, split, result, f"{time.perf_counter() - t:.0f} s", flush=True)
    if not args.no_seeds:
        report["seeds"] = bench_dev()
        print("seeds", {k: v for k, v in report["seeds"].items() if k != "rows"}, flush=True)
    name = f"answers-{report['commit']}-{args.split}{'-' + args.tag if args.tag else ''}"
    # Per-question rows stay out of the repository (bench/work is ignored): the summary is the result.
    (WORK / f"rows-{name}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    path = write_results(name, report, markdown(report))
    print(path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
