"""The answer model's training script: the gate's cuts, read per kind of question."""

from __future__ import annotations

import numpy as np

from bench import train_answer_model as T
from rag.answer.features import SENTENCE_FEATURES


def _record(question: str, answerable: bool, cross: bool, set_name: str, i: int) -> dict:
    x = np.zeros((2, len(SENTENCE_FEATURES)))
    x[:, SENTENCE_FEATURES.index("cross")] = float(cross)
    variant = "with" if answerable else "without"
    return {"id": f"{set_name}-{i}", "set": set_name, "variant": variant, "gold_retrieved": answerable, "question": question, "x": x}


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
