"""Question sets and cached notebooks for the answer benchmark and the answer-model training (issue 12).

Evaluation: DRCD dev, CMRC 2018 dev, XQuAD (en->zh, zh->en) on the odd-numbered articles.
Training: DRCD test, CMRC 2018 trial, XQuAD on the even-numbered articles. The two never share a passage.
Data: DRCD (CC BY-SA 3.0), CMRC 2018 and XQuAD (CC BY-SA 4.0); see ../shared/data/SOURCES.md.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from rag.types import AnswerRequest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DATA = SHARED / "bench"
WORK = REPO / "bench" / "work" / "answers"
CMRC_TRIAL = SHARED / "cmrc2018" / "squad-style-data" / "cmrc2018_trial.json"
SEED = 12
PER_SET = 200

# Evaluation sets: name -> (query set, corpus).
EVAL_SETS = {
    "drcd_dev": ("drcd_dev", "drcd_dev"),
    "cmrc2018_dev": ("cmrc2018_dev", "cmrc2018_dev"),
    "xquad_en2zh": ("xquad_en2zh", "xquad_zh"),
    "xquad_zh2en": ("xquad_zh2en", "xquad_en"),
}
# Training sets: name -> (query set, corpus); cmrc2018_trial is built from the SQuAD-format file.
TRAIN_SETS = {
    "drcd_test": ("drcd_test", "drcd_test"),
    "cmrc2018_trial": ("cmrc2018_trial", "cmrc2018_trial"),
    "xquad_en2zh": ("xquad_en2zh", "xquad_zh"),
    "xquad_zh2en": ("xquad_zh2en", "xquad_en"),
    "xquad_zh": ("xquad_zh", "xquad_zh"),
    "xquad_en": ("xquad_en", "xquad_en"),
}
_XQUAD_ARTICLE = re.compile(r"^xquad-a(\d+)-p")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def xquad_split(passage_id: str) -> str | None:
    """'train' for even XQuAD articles, 'eval' for odd ones, None for other sets."""
    m = _XQUAD_ARTICLE.match(passage_id)
    return None if m is None else ("train" if int(m.group(1)) % 2 == 0 else "eval")


def cmrc_trial() -> tuple[list[dict], list[dict]]:
    """(corpus, queries) of CMRC 2018 trial in the bench format."""
    raw = json.loads(CMRC_TRIAL.read_text(encoding="utf-8"))
    corpus, queries = [], []
    for article in raw["data"]:
        for para in article["paragraphs"]:
            corpus.append({"id": para["id"], "title": article.get("title", ""), "text": para["context"]})
            for qa in para["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip()))
                if answers:
                    queries.append(
                        {"id": qa["id"], "question": qa["question"], "lang": "zh-Hans", "answers": answers,
                         "gold_passage_ids": [para["id"]]}
                    )
    return corpus, queries


def corpus_rows(corpus: str) -> list[dict]:
    return cmrc_trial()[0] if corpus == "cmrc2018_trial" else read_jsonl(DATA / corpus / "corpus.jsonl")


def all_queries(query_set: str) -> list[dict]:
    return cmrc_trial()[1] if query_set == "cmrc2018_trial" else read_jsonl(DATA / query_set / "queries.jsonl")


def eval_questions(name: str, n: int = PER_SET, seed: int = SEED) -> list[dict]:
    """`n` questions drawn with a fixed seed outside queries.sample200.jsonl (XQuAD: odd articles only)."""
    query_set, _ = EVAL_SETS[name]
    sample = {q["id"] for q in read_jsonl(DATA / query_set / "queries.sample200.jsonl")}
    pool = [q for q in all_queries(query_set) if q["id"] not in sample]
    pool = [q for q in pool if xquad_split(q["gold_passage_ids"][0]) in (None, "eval")]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def train_questions(name: str) -> list[dict]:
    """Every training question of a set (XQuAD: even articles only)."""
    query_set, corpus = TRAIN_SETS[name]
    indexed = {p["id"] for p in corpus_rows(corpus)}
    return [
        q for q in all_queries(query_set)
        if q["gold_passage_ids"][0] in indexed and xquad_split(q["gold_passage_ids"][0]) in (None, "train")
    ]


def notebook(corpus: str):
    """A notebook holding `corpus` one passage per file, indexed once and reused (bench/work/answers/<corpus>)."""
    from rag import Notebook

    home = WORK / corpus
    nb = Notebook(path=home / ".rag")
    stamp = home / f"indexed-{nb.settings.collection_name()}.ok"
    if not stamp.exists():
        docs = home / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        for p in corpus_rows(corpus):
            text = f"{p['title']}\n\n{p['text']}" if p.get("title") else p["text"]
            f = docs / f"{p['id']}.txt"
            if not f.exists() or f.read_text(encoding="utf-8") != text:
                f.write_text(text, encoding="utf-8")
        nb.index(docs, progress=False)
        stamp.write_text("ok\n")
    return nb


def sources_by_passage(nb) -> dict[str, str]:
    """Passage id (its file's stem) -> the source the notebook holds it under: what a search excludes."""
    return {Path(s["source"]).stem: s["source"] for s in nb.sources()}


def answer_without(nb, question: str, sources: list[str]):
    """The answer `ask` gives over a notebook that never held `sources`: searched as if they were never indexed
    (Notebook.search's exclude_sources), the question's words weighed by the keyword index without them."""
    hits = nb.search(question, nb.settings.answer_hits(), exclude_sources=sources)
    answerer = nb.answerer.reading(nb.retriever.keywords_without(sources))
    return answerer.invoke(AnswerRequest(question, hits=hits))


def seeds_notebook():
    """The seeds/ folder indexed into bench/work/answers/seeds (for `rag eval tests/data/dev.jsonl --answers`)."""
    import shutil

    from rag import Notebook

    home = WORK / "seeds"
    if not (home / "seeds").exists():
        shutil.copytree(REPO / "seeds", home / "seeds")
    nb = Notebook(path=home / ".rag")
    stamp = home / f"indexed-{nb.settings.collection_name()}.ok"
    if not stamp.exists():
        nb.index(home / "seeds", progress=False)
        stamp.write_text("ok\n")
    return nb


if __name__ == "__main__":  # python -m bench.answer_data [corpus ...]: build the cached notebooks
    from rag.offline import go_offline

    go_offline()
    names = sys.argv[1:] or ["seeds", "xquad_zh", "xquad_en", "cmrc2018_trial", "drcd_dev", "cmrc2018_dev", "drcd_test"]
    for name in names:
        import time

        t = time.perf_counter()
        nb = seeds_notebook() if name == "seeds" else notebook(name)
        print(name, nb.count(), "chunks", round(time.perf_counter() - t, 1), "s", flush=True)
