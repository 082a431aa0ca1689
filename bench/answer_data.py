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
import zlib
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
                        {
                            "id": qa["id"],
                            "question": qa["question"],
                            "lang": "zh-Hans",
                            "answers": answers,
                            "gold_passage_ids": [para["id"]],
                        }
                    )
    return corpus, queries


def corpus_rows(corpus: str) -> list[dict]:
    return cmrc_trial()[0] if corpus == "cmrc2018_trial" else read_jsonl(DATA / corpus / "corpus.jsonl")


def all_queries(query_set: str) -> list[dict]:
    return cmrc_trial()[1] if query_set == "cmrc2018_trial" else read_jsonl(DATA / query_set / "queries.jsonl")


def _eval_pool(name: str) -> list[dict]:
    """Every evaluation question of a set: outside queries.sample200.jsonl (XQuAD: odd articles only)."""
    query_set, _ = EVAL_SETS[name]
    sample = {q["id"] for q in read_jsonl(DATA / query_set / "queries.sample200.jsonl")}
    pool = [q for q in all_queries(query_set) if q["id"] not in sample]
    return [q for q in pool if xquad_split(q["gold_passage_ids"][0]) in (None, "eval")]


def eval_questions(name: str, n: int = PER_SET, seed: int = SEED) -> list[dict]:
    """`n` questions drawn with a fixed seed from the evaluation pool: the bench's draw until issue 31, measured in
    every tuning run of the answer model's cuts and rules (so never part of the test split)."""
    pool = _eval_pool(name)
    return random.Random(seed).sample(pool, min(n, len(pool)))


# The splits of the evaluation questions (issue 31): a development split to look at as often as one likes, and a test
# split scored once per change one means to keep. By article (a passage's siblings share its subject, and often its
# answers), with the crc32 of the article's name: odd -> test. The questions of the draw that tuned the cuts
# (eval_questions with seed 12) never enter the test split, and neither do their XQuAD translations.
SPLITS = ("dev", "test")


def article_of(passage_id: str, title: str) -> str:
    """The article a passage is a paragraph of: XQuAD's `aNN`, DRCD's id before its paragraph number (1147-5 ->
    1147), CMRC 2018's title (its paragraph ids DEV_n do not tell)."""
    m = _XQUAD_ARTICLE.match(passage_id)
    if m:
        return f"xquad-a{m.group(1)}"
    if re.fullmatch(r"\d+-\d+", passage_id):
        return passage_id.split("-")[0]
    return title


def split_of(article: str) -> str:
    return "test" if zlib.crc32(article.encode("utf-8")) % 2 else "dev"


def _question_key(q: dict) -> str:
    """A question across the XQuAD sets that translate it (en2zh-<squad id>, zh2en-<squad id>): its SQuAD id."""
    prefix, _, rest = q["id"].partition("-")
    return rest if prefix in ("en2zh", "zh2en", "en", "zh") and rest else q["id"]


def tuned_questions() -> set[str]:
    """The question keys of the draw every tuning run measured (eval_questions, seed 12, 200 per set)."""
    return {_question_key(q) for name in EVAL_SETS for q in eval_questions(name, PER_SET)}


def split_questions(name: str, split: str, n: int = PER_SET, seed: int = SEED) -> list[dict]:
    """`n` questions of a set's `split` (SPLITS), drawn with a fixed seed."""
    _, corpus = EVAL_SETS[name]
    titles = {p["id"]: p.get("title", "") for p in corpus_rows(corpus)}
    pool = [
        q
        for q in _eval_pool(name)
        if split_of(article_of(q["gold_passage_ids"][0], titles.get(q["gold_passage_ids"][0], ""))) == split
    ]
    if split == "test":
        tuned = tuned_questions()
        pool = [q for q in pool if _question_key(q) not in tuned]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def train_questions(name: str) -> list[dict]:
    """Every training question of a set (XQuAD: even articles only)."""
    query_set, corpus = TRAIN_SETS[name]
    indexed = {p["id"] for p in corpus_rows(corpus)}
    return [
        q
        for q in all_queries(query_set)
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
