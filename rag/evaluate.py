"""Retrieval and answer metrics over question files shaped like eval/dev.jsonl."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from rag.text import matching_form
from rag.types import STATUSES

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Whitespace removed: evidence matching ignores line breaks and spacing."""
    return _SPACE.sub("", text)


def fact_form(text: str) -> str:
    """Key facts are compared in Simplified, lowercased, without whitespace."""
    return squash(matching_form(text).lower())


def load_questions(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def first_hit_rank(texts: list[str], evidence: list[str]) -> int | None:
    """1-based rank of the first text containing any evidence string (whitespace-insensitive)."""
    wanted = [squash(e) for e in evidence]
    for rank, text in enumerate(texts, start=1):
        flat = squash(text)
        if any(w in flat for w in wanted):
            return rank
    return None


def evidence_share(texts: list[str], evidence: list[str]) -> float:
    """Share of the evidence strings found somewhere in the texts."""
    flat = [squash(t) for t in texts]
    return sum(any(squash(e) in t for t in flat) for e in evidence) / len(evidence)


def fact_recall(answer: str, facts: list[str]) -> float:
    """Share of key facts present in the answer; a fact's alternatives are split on '|'."""
    if not facts:
        return 1.0
    text = fact_form(answer)
    return sum(any(fact_form(alt) in text for alt in fact.split("|")) for fact in facts) / len(facts)


def retrieval_row(question: dict, texts: list[str], k: int) -> dict:
    """Per-question retrieval figures from the ranked chunk texts."""
    rank = first_hit_rank(texts[:k], question["evidence"])
    return {
        "r1": float(rank == 1),
        f"r{k}": float(rank is not None),
        "mrr": 1.0 / rank if rank else 0.0,
        "evidence_share": evidence_share(texts[:k], question["evidence"]),
    }


def summarise(rows: list[dict], keys: Iterable[str]) -> dict:
    """Mean of each metric overall and broken down by question type and language."""
    keys = list(keys)

    def mean(rs: list[dict]) -> dict:
        out = {"n": len(rs)}
        for key in keys:
            values = [r[key] for r in rs if r.get(key) is not None]
            out[key] = round(sum(values) / len(values), 4) if values else None
        return out

    groups: dict[str, dict[str, list[dict]]] = {"type": defaultdict(list), "lang": defaultdict(list)}
    for r in rows:
        groups["type"][r["type"]].append(r)
        groups["lang"][r["lang"]].append(r)
    return {
        "all": mean(rows),
        "by_type": {name: mean(rs) for name, rs in sorted(groups["type"].items())},
        "by_lang": {name: mean(rs) for name, rs in sorted(groups["lang"].items())},
    }


def evaluate(notebook, questions: list[dict], k: int = 5, answers: bool = False) -> dict:
    """R@1, R@k, MRR and evidence share on answerable questions; with answers, fact recall,
    citation precision and refusal accuracy too."""
    rows = []
    for q in questions:
        answerable = bool(q.get("evidence"))
        row = {"id": q["id"], "type": q.get("type", ""), "lang": q.get("lang", ""), "answerable": answerable}
        if answerable:
            hits = notebook.search(q["question"], k=k)
            row.update(retrieval_row(q, [h.text for h in hits], k))
        if answers:
            answer = notebook.ask(q["question"])
            row["refused"] = answer.refused
            row["status"] = answer.status
            row["refusal_correct"] = float(answer.refused != answerable)
            if answerable:
                row["fact_recall"] = fact_recall(answer.text, q.get("answer_facts", []))
            chunks = {c.chunk_id: c.text for c in notebook.chunks([c.chunk_id for c in answer.citations])}
            checks = [squash(c.quote) in squash(chunks.get(c.chunk_id, "")) for c in answer.citations]
            row["citation_precision"] = sum(checks) / len(checks) if checks else None
            row["answer"] = answer.text
        rows.append(row)
    answerable_rows = [r for r in rows if r["answerable"]]
    report = {
        "k": k,
        "questions": len(rows),
        "retrieval": summarise(answerable_rows, ["r1", f"r{k}", "mrr", "evidence_share"]),
    }
    if answers:
        report["answers"] = summarise(rows, ["fact_recall", "citation_precision", "refusal_correct"])
        unanswerable = [r for r in rows if not r["answerable"]]
        report["answers"]["refusal_accuracy_unanswerable"] = (
            round(sum(r["refused"] for r in unanswerable) / len(unanswerable), 4) if unanswerable else None
        )
        report["answers"]["false_refusals"] = sum(r["refused"] for r in answerable_rows)
        for name, group in (("answerable", answerable_rows), ("unanswerable", unanswerable)):
            counts = {s: sum(r["status"] == s for r in group) for s in STATUSES}
            report["answers"][f"{name}_statuses"] = ", ".join(f"{s} {n}" for s, n in counts.items())
    report["rows"] = rows
    return report


def format_report(report: dict) -> str:
    """A readable table of an `evaluate` report."""
    lines = []
    for part in ("retrieval", "answers"):
        if part not in report:
            continue
        block = report[part]
        keys = [key for key in block["all"] if key != "n"]
        lines.append(f"## {part} (k={report['k']})")
        lines.append("| group | n | " + " | ".join(keys) + " |")
        lines.append("|---" * (len(keys) + 2) + "|")
        groups = [("all", block["all"])] + [(f"type={k}", v) for k, v in block["by_type"].items()]
        groups += [(f"lang={k}", v) for k, v in block["by_lang"].items()]
        for name, row in groups:
            cells = ["—" if row.get(k) is None else f"{row[k]:.3f}" for k in keys]
            lines.append(f"| {name} | {row['n']} | " + " | ".join(cells) + " |")
        for key in ("refusal_accuracy_unanswerable", "false_refusals", "answerable_statuses", "unanswerable_statuses"):
            if key in block:
                lines.append(f"{key}: {block[key]}")
        lines.append("")
    return "\n".join(lines)
