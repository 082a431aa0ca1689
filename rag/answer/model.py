"""The learned answer model, numbers only: the sentence scorer, its stage-one shortlister and the answer-or-refuse
gate with its cuts, loaded from rag/answer/model.json.

Weights are fitted by bench/train_answer_model.py on public QA data (DRCD test, CMRC 2018 trial, XQuAD
even-numbered articles); run time is numpy only. What they read is rag/answer/features.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.features import COLUMN, GATE_FEATURES, SENTENCE_FEATURES
from rag.text.script import mostly_han

MODEL_FILE = Path(__file__).with_name("model.json")


@dataclass
class Scorer:
    """A small standardised network: ((x - mean) / scale), then an optional tanh hidden layer, then one logit.

    With no hidden layer it is a logistic regression; numpy only at run time (fitted with torch at set-up)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # output weights: one per feature, or one per hidden unit
    bias: float
    hidden_weights: np.ndarray | None = None  # features x units
    hidden_bias: np.ndarray | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Scorer:
        hidden = d.get("hidden")
        return cls(
            *(np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "weights")),
            float(d["bias"]),
            None if hidden is None else np.asarray(hidden["weights"], dtype=np.float64),
            None if hidden is None else np.asarray(hidden["bias"], dtype=np.float64),
        )

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        if self.hidden_weights is not None:
            z = np.tanh(z @ self.hidden_weights + self.hidden_bias)
        return z @ self.weights + self.bias


def shortlist_order(shortlister: Scorer, x: np.ndarray) -> np.ndarray:
    """Candidate indices best first by the stage-one scorer over text features `x` (the answerer and its training
    cut the shortlist from this one order)."""
    return np.argsort(-shortlister.logits(x), kind="stable")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


# The gate's probability cuts, one per kind of question (cut_kind): its probabilities are not calibrated alike for
# each. XQuAD's English questions over English passages get lower ones when answerable than DRCD's and CMRC's
# Chinese questions do; one cut for both languages was set by the English ones and let Chinese near misses through.
CUT_KINDS = ("same_zh", "same_en", "cross")


def cut_kind(question: str, x: np.ndarray) -> str:
    """Which of CUT_KINDS decides for `question` over its scored candidates' SENTENCE_FEATURES rows `x`.

    The cross-language cut was fitted on questions whose passages were all in the other language; when some scored
    sentences are in the question's own language (a mixed notebook), the best one being in the other language is
    no reason to ask for less: the question's own language's cut applies."""
    if (x[:, COLUMN["cross"]] > 0.5).all():
        return "cross"
    return "same_zh" if mostly_han(question) else "same_en"


class AnswerModel:
    """Sentence scorer + gate loaded from JSON; `thresholds` are the gate's probability cuts per CUT_KINDS (fitted on
    training questions for few false refusals) unless a setting overrides them."""

    def __init__(self, data: dict):
        if data["sentence_features"] != SENTENCE_FEATURES or data["gate_features"] != GATE_FEATURES:
            raise ValueError("rag/answer/model.json was fitted on other features: run `make answer-model`")
        self.sentence = Scorer.from_dict(data["sentence"])
        # Stage one: a scorer over the text features alone picks the sentences worth embedding.
        self.shortlister = Scorer.from_dict(data["shortlist"])
        self.shortlist_size = int(data["shortlist"]["size"])
        self.gate = Scorer.from_dict(data["gate"])
        # Sentences whose logit is this far below the best one's are left out of the answer (fitted with it).
        self.margin = float(data["sentence"].get("margin", 2.0))
        self.thresholds = {kind: float(data["gate"][f"threshold_{kind}"]) for kind in CUT_KINDS}
        self.data = data

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerModel:
        return _load(str(path))

    def sentence_logits(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.logits(x)

    # Candidates of each language a shortlist holds at least, when the passages are in both. More than the best one
    # let question-language near misses' other-language neighbours through the gate on the seeds (2: 「金管會對AI
    # Agent的規範…」 and "What is the capital of Australia?" answered).
    per_language = 1

    def shortlist(self, x: np.ndarray, both_languages: bool = False) -> np.ndarray:
        """Indices of the candidates worth embedding (text features `x`, similarities still 0), best first.

        Over passages in both languages (`both_languages`), the best sentence of each language is among them: the
        text features see the question's own words and only the glossary's translations of the others, so the
        stage-one scorer puts a sentence in the other language below the question-language sentences that merely
        share its words; the embedders, which read both languages, then judge."""
        order = shortlist_order(self.shortlister, x)
        keep = list(order[: self.shortlist_size])
        cross = x[order, COLUMN["cross"]] > 0.5
        if both_languages and cross.any() and not cross.all():
            for language in (True, False):
                best = [i for i, c in zip(order, cross) if c == language][: self.per_language]
                keep += [i for i in best if i not in keep]
        return np.asarray(keep, dtype=int)

    def cut(self, question: str, x: np.ndarray) -> float:
        """The fitted probability cut for `question` over its scored candidates' features `x`."""
        return self.thresholds[cut_kind(question, x)]

    def answerable_probability(self, g: np.ndarray) -> float:
        return float(sigmoid(self.gate.logits(g[None, :]))[0])


@lru_cache(maxsize=4)
def _load(path: str) -> AnswerModel:
    return AnswerModel(json.loads(Path(path).read_text(encoding="utf-8")))
