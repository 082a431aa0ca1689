"""The answer model's training script: the gate's cuts, read per kind of question; its negatives built over an index
without the removed passage."""

from __future__ import annotations

import numpy as np
import pytest

from bench import train_answer_model as T
from rag.answer.features import GATE_FEATURES, SENTENCE_FEATURES
from rag.answer.model import AnswerModel


def _record(question: str, answerable: bool, cross: bool, set_name: str, i: int) -> dict:
    x = np.zeros((2, len(SENTENCE_FEATURES)))
    x[:, SENTENCE_FEATURES.index("cross")] = float(cross)
    variant = "with" if answerable else "without"
    return {
        "id": f"{set_name}-{i}",
        "set": set_name,
        "variant": variant,
        "gold_retrieved": answerable,
        "question": question,
        "x": x,
    }


def test_each_kind_of_question_gets_its_own_cut_from_its_own_answers():
    # Chinese answers sit high, English ones lower, cross-language ones lowest: one cut for all would be set by the
    # lowest and let the others' unanswerables through.
    rng = np.random.default_rng(0)
    records, p = [], []
    for kind, question, cross, centre in (
        ("zh", "台積電在亞利桑那投資多少?", False, 0.6),
        ("en", "How much did TSMC invest in Arizona?", False, 0.4),
        ("x", "How much did TSMC invest in Arizona?", True, 0.2),
    ):
        for i in range(200):
            records.append(_record(question, True, cross, f"set_{kind}", i))
            p.append(float(np.clip(rng.normal(centre, 0.05), 0.001, 0.999)))
        records.append(_record(question, False, cross, f"set_{kind}", 999))  # unanswerables do not move a cut
        p.append(0.99)
    cuts = T.fitted_cuts(records, np.array(p), ["set_zh", "set_en", "set_x"])
    assert set(cuts) == {"threshold_same_zh", "threshold_same_en", "threshold_cross"}
    assert cuts["threshold_same_zh"] > cuts["threshold_same_en"] > cuts["threshold_cross"]
    for kind, name in (("same_zh", "set_zh"), ("same_en", "set_en"), ("cross", "set_x")):
        answerable = np.array([r["set"] == name and r["variant"] == "with" for r in records])
        refused = np.mean(np.array(p)[answerable] < cuts[f"threshold_{kind}"])
        assert refused <= T.TARGET_FALSE_REFUSALS[kind] and refused >= T.TARGET_FALSE_REFUSALS[kind] - 0.01


# A tiny notebook: the passage P answers the question; the others are about the same company and other things.
CORPUS = {
    "p_arizona.txt": "TSMC Arizona\n\nTSMC announced in 2020 that it would build a chip factory in Arizona. The first "
    "phase cost 12 billion dollars and makes 5 nm chips. Local officials said the plant would create about 1,900 jobs.",
    "tsmc_japan.txt": "TSMC Japan\n\nTSMC opened a factory in Kumamoto, Japan, in 2024 with Sony and Denso. The plant makes "
    "chips for cameras and cars. Japan paid part of its cost.",
    "tsmc_history.txt": "TSMC history\n\nMorris Chang founded TSMC in 1987 in Hsinchu. The company makes chips that other "
    "firms design. Its biggest customers are Apple and Nvidia.",
    "bread.txt": "Sourdough\n\nSourdough bread is leavened by wild yeast. The starter is fed with flour and water every "
    "day. A loaf needs twelve hours to rise.",
    "camera.txt": "Acme X200 camera\n\nThe Acme X200 is a mirrorless camera announced in March 2023. It weighs 450 grams "
    "and has a 24-megapixel sensor.",
}
QUESTION = {
    "id": "q1",
    "question": "How many jobs will the TSMC factory in Arizona create?",
    "answers": ["1,900"],
    "gold_passage_ids": ["p_arizona"],
}


def _notebook(home, names):
    """A notebook holding `names` of CORPUS, each chunk embedded alone: the int8 encoder quantises activations over
    its whole batch, so a chunk embedded beside others comes out differently (cosines to a question moved by 0.003
    between two notebooks batched otherwise), and only one at a time are two notebooks' vectors alike."""
    from rag import Notebook

    docs = home / "docs"
    docs.mkdir(parents=True)
    for name in names:
        (docs / name).write_text(CORPUS[name], encoding="utf-8")
    nb = Notebook(path=home / ".rag", embed_batch=1)
    nb.index(docs, progress=False)
    return nb


def test_a_search_excluding_a_passage_and_the_gate_s_inputs_are_those_of_a_notebook_without_it(tmp_path):
    from bench.answer_data import sources_by_passage

    full = _notebook(tmp_path / "full", CORPUS)
    lacking = _notebook(tmp_path / "lacking", [name for name in CORPUS if name != "p_arizona.txt"])
    question, k = QUESTION["question"], full.settings.answer_hits()
    sources = sources_by_passage(full)

    # The search: the same passages, in the same order, with the same ranks and scores as over a notebook that never
    # indexed P (dropping P's chunks from a search that held it would leave the keyword ranks and fused scores of that
    # search, shaped around P).
    excluded = full.search(question, k, exclude_sources=[sources["p_arizona"]])
    real = lacking.search(question, k)
    held = full.search(question, k)
    assert held[0].source == sources["p_arizona"]  # P answers, and leads when it is there
    assert [(h.title, h.text) for h in excluded] == [(h.title, h.text) for h in real]
    for a, b in zip(excluded, real):
        assert (a.keyword_rank, a.dense_rank, a.translated_rank) == (b.keyword_rank, b.dense_rank, b.translated_rank)
        assert a.score == pytest.approx(b.score, abs=1e-6) and a.dense_similarity == pytest.approx(
            b.dense_similarity, abs=1e-6
        )
    dropped = [h for h in held if h.source != sources["p_arizona"]]
    assert [h.keyword_rank for h in dropped] != [h.keyword_rank for h in real]  # why dropping is not the same

    # The gate's inputs: the answerer over the notebook without P, and the training extraction's "without" variant
    # computed over the notebook holding it.
    answerer = lacking.answerer
    asked = answerer.analyse(question, real)
    scored = answerer.score(asked, real, answerer.candidates(real))
    in_use = answerer.gate_inputs(scored)

    hits = T.retrieve(full, QUESTION, sources)["without"]
    e5, use = (getattr(e, "embedder", e) for e in (full.answerer.embedder, full.answerer.cross_embedder))
    records = T.variant_records(
        T.variant_answerer(full, QUESTION, "without", sources), QUESTION, "without", hits, (e5, use)
    )
    model = AnswerModel.load()
    g, labels = T.gate_rows(T.shortlisted(records, model.data["shortlist"]), model.data["sentence"])
    assert labels == [0] and g.shape == (1, len(GATE_FEATURES))
    np.testing.assert_allclose(g[0], in_use, rtol=0, atol=1e-9)
