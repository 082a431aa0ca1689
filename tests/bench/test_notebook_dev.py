"""The authored notebook development set (tests/data/notebook_dev): every key fact is a span of its document as
the notebook reads it, the split is by document and reproducible, and the set has the mix issue 31 asks for."""

from __future__ import annotations

import enum
import json
from collections import Counter
from types import SimpleNamespace

import pytest

from bench.notebook_dev import DEV_SET, facts_shown, first_sentence, genre_folds, load_set, split_of, status_of
from ingest.loaders import load_document

DOCS = DEV_SET / "docs"
QUESTIONS, DOCUMENTS = load_set()
KINDS = {"factoid", "why", "yes-no", "table", "interview-reply", "cross-language", "near-miss", "off-topic"}


def test_documents_are_many_genres_languages_and_sizes():
    assert len(DOCUMENTS) >= 22 and {p.name for p in DOCS.iterdir()} == set(DOCUMENTS)
    genres = Counter(d["genre"] for d in DOCUMENTS.values())
    langs = Counter(d["lang"] for d in DOCUMENTS.values())
    assert set(genres) == {"interview", "news", "blog", "forum"} and min(genres.values()) >= 5
    assert set(langs) == {"zh-Hant", "zh-Hans", "en"} and min(langs.values()) >= 6
    assert sum(d["mixed_languages"] for d in DOCUMENTS.values()) >= 6
    for name in DOCUMENTS:
        text = load_document(DOCS / name).text
        assert 400 <= len(text) <= 1500, f"{name}: {len(text)} characters"


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["answerable"]], ids=lambda q: q["id"])
def test_every_key_fact_is_a_span_of_its_document(q):
    raw = (DOCS / q["doc"]).read_text(encoding="utf-8")
    read = load_document(DOCS / q["doc"]).text  # what the notebook indexes (the HTML reader drops the tags)
    assert q["key_facts"]
    for fact in q["key_facts"]:
        assert fact in raw and fact in read, f"{q['id']}: {fact!r} not in {q['doc']}"


def test_questions_are_well_formed_and_mixed_as_asked():
    assert len(QUESTIONS) >= 140 and len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)
    for q in QUESTIONS:
        assert q["lang"] in {"zh-Hant", "zh-Hans", "en"} and q["kind"] in KINDS and q["split"] in {"dev", "test"}
        assert bool(q["key_facts"]) == q["answerable"], q["id"]
        assert (q["kind"] in {"near-miss", "off-topic"}) == (not q["answerable"]), q["id"]
        assert (q["doc"] is None) == (q["kind"] == "off-topic"), q["id"]
        if q["doc"] is not None:
            assert q["genre"] == DOCUMENTS[q["doc"]]["genre"]
    unanswerable = [q for q in QUESTIONS if not q["answerable"]]
    assert len(unanswerable) >= len(QUESTIONS) / 4
    assert (
        Counter(q["kind"] for q in unanswerable)["near-miss"]
        > 3 * Counter(q["kind"] for q in unanswerable)["off-topic"]
    )
    crossed = Counter(
        (q["lang"] == "en", DOCUMENTS[q["doc"]]["lang"] == "en") for q in QUESTIONS if q["cross_language"]
    )
    assert crossed[(True, False)] >= 15 and crossed[(False, True)] >= 15  # English over Chinese and the reverse


def test_split_is_by_document_reproducible_and_balanced():
    for q in QUESTIONS:
        assert q["split"] == split_of(q, DOCUMENTS), q["id"]
    by_doc: dict[str, set[str]] = {}
    for q in QUESTIONS:
        by_doc.setdefault(q["doc"] or q["id"], set()).add(q["split"])
    assert all(len(splits) == 1 for splits in by_doc.values())
    for split in ("dev", "test"):
        docs = [d for d in DOCUMENTS.values() if d["split"] == split]
        assert Counter(d["genre"] for d in docs) == Counter({"interview": 3, "news": 3, "blog": 3, "forum": 3})
        assert set(Counter(d["lang"] for d in docs)) == {"zh-Hant", "zh-Hans", "en"}
    share = Counter(q["split"] for q in QUESTIONS)["dev"] / len(QUESTIONS)
    assert 0.4 <= share <= 0.6


def test_key_facts_are_matched_in_either_chinese_script_and_ignore_spacing():
    assert facts_shown(["每 30 分鐘 40 元"], "新费率：每30分钟40元。") == 1.0  # Simplified answer, Traditional fact
    assert facts_shown(["6 奈米", "24 TOPS"], "CB-200 采用 6 纳米制程") == 0.5  # Taiwan vocabulary in Mainland words
    assert facts_shown(["eight weeks"], "Wait at least Eight Weeks.") == 1.0
    assert facts_shown(["5 元"], "") == 0.0


def test_the_files_are_plain_utf8_jsonl():
    for name in ("questions.jsonl", "documents.jsonl"):
        for line in (DEV_SET / name).read_text(encoding="utf-8").splitlines():
            json.loads(line)


def test_leave_one_genre_out_folds_hold_one_genre_out_of_one_split():
    folds = genre_folds(QUESTIONS, "dev")
    assert set(folds) == {"interview", "news", "blog", "forum"}
    for genre, (choose, measure) in folds.items():
        assert measure and all(q["genre"] == genre and q["split"] == "dev" for q in measure)
        assert all(q["genre"] != genre and q["split"] == "dev" for q in choose)
        assert {q["id"] for q in choose} | {q["id"] for q in measure} == {
            q["id"] for q in QUESTIONS if q["split"] == "dev"
        }


def test_status_is_the_answers_own_else_its_refusal():
    class Status(enum.Enum):
        PARTIAL = "partial"

    assert status_of(SimpleNamespace(status=Status.PARTIAL, refused=True)) == "partial"
    assert status_of(SimpleNamespace(status="answered", refused=False)) == "answered"
    assert status_of(SimpleNamespace(refused=True)) == "not_found"  # before Answer.status existed
    assert status_of(SimpleNamespace(refused=False)) == "answered"


def test_first_sentence_of_an_answer():
    assert first_sentence("單程 55 分鐘。 [1] 機車 40 分鐘。") == "單程 55 分鐘。"
    assert first_sentence("Wait eight weeks. Then race.") == "Wait eight weeks."
    assert first_sentence("") == ""
