"""`make answer-model`: fit rag/answer/model.json — the extractive answerer's sentence scorer and answer gate.

Training questions only (never the evaluation sets of bench/answers.py): DRCD test (its first 120 passages),
CMRC 2018 trial, and XQuAD's even-numbered articles (en->zh, zh->en, zh, en). Each question is retrieved
through its cached notebook twice: as is (answerable) and with its gold passage's chunks dropped from 20 hits
(unanswerable unless a remaining hit still holds a gold span). Features come from the answerer itself
(ExtractiveAnswerer.sentence_features) and are cached in bench/work/answers/features/.
(a) sentence scorer: logistic regression, positive = a candidate sentence of the gold passage holding a gold span;
(b) gate: logistic regression over rag.answer.model.gate_features, positive = answerable questions whose
    chosen sentences hold the span, negative = the same questions without their gold passage;
    threshold = the highest probability cut leaving ≤ 4% of every training set's answerable questions refused.
Data: DRCD (CC BY-SA 3.0), CMRC 2018 and XQuAD (CC BY-SA 4.0); see ../shared/data/SOURCES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import time
from pathlib import Path

import numpy as np

from rag.offline import go_offline

go_offline()

from bench.answer_data import SEED, TRAIN_SETS, WORK, notebook, train_questions
from bench.answers import EXTRA_HITS, contains, gold_answers
from rag.answer.model import GATE_FEATURES, MODEL_FILE, SENTENCE_FEATURES, gate_features, sigmoid

# Questions per training set (drawn with SEED): enough for a 29-feature linear model; minutes on 2 busy cores.
CAPS = {"drcd_test": 60, "cmrc2018_trial": 60, "xquad_en2zh": 160, "xquad_zh2en": 60, "xquad_zh": 20, "xquad_en": 20}
TARGET_FALSE_REFUSALS = 0.04
CHOSEN = 4  # sentences the answerer quotes at most (Settings.answer_sentences)


def feature_version() -> str:
    return hashlib.sha1(json.dumps(SENTENCE_FEATURES).encode()).hexdigest()[:8]


class Memo:
    """An embedder that remembers its vectors: the two variants of a question share most sentences."""

    def __init__(self, embedder):
        self.embedder, self.passages, self.queries = embedder, {}, {}

    def _get(self, store: dict, method: str, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in store]
        if missing:
            store.update(zip(missing, getattr(self.embedder, method)(missing)))
        return np.stack([store[t] for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._get(self.passages, "embed_passages", texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._get(self.queries, "embed_queries", texts)


def extract(name: str) -> list[dict]:
    """Per question and variant (with / without its gold passage): features, labels, cached on disk."""
    cache = WORK / "features" / f"{name}-{CAPS[name]}-{feature_version()}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    _, corpus = TRAIN_SETS[name]
    nb = notebook(corpus)
    answerer = nb.answerer
    plain = answerer.embedder, answerer.cross_embedder
    questions = train_questions(name)
    questions = random.Random(SEED).sample(questions, min(CAPS[name], len(questions)))
    out, t = [], time.perf_counter()
    for i, q in enumerate(questions):
        if i and i % 50 == 0:
            print(f"{name}: {i} questions, {time.perf_counter() - t:.0f} s", flush=True)
        gold, golds = q["gold_passage_ids"][0], gold_answers(q)
        wide = nb.search(q["question"], k=EXTRA_HITS)
        variants = {
            "with": wide[: nb.settings.k],
            "without": [h for h in wide if Path(h.source).stem != gold][: nb.settings.k],
        }
        answerer.embedder, answerer.cross_embedder = (Memo(e) if e is not None else None for e in plain)
        for variant, hits in variants.items():
            cands = answerer.candidates(hits)
            if not cands:
                continue
            x = answerer.sentence_features(q["question"], hits, cands)
            y = np.array([Path(hits[c.hit_index].source).stem == gold and contains(c.text, golds) for c in cands])
            out.append(
                {
                    "id": q["id"], "set": name, "variant": variant, "x": x, "y": y,
                    "gold_retrieved": any(Path(h.source).stem == gold for h in hits),
                    "still_holds": any(contains(h.text, golds) for h in hits),
                }
            )
    print(f"{name}: {len(questions)} questions, {time.perf_counter() - t:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def fit_linear(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> dict:
    """Standardised L2 logistic regression (sklearn's lbfgs, deterministic) as a JSON-able dict."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return {
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "weights": [round(float(v), 6) for v in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 6),
    }


def logits(layer: dict, x: np.ndarray) -> np.ndarray:
    return ((x - np.array(layer["mean"])) / np.array(layer["scale"])) @ np.array(layer["weights"]) + layer["bias"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.train_answer_model", description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(CAPS))
    ap.add_argument("--out", default=str(MODEL_FILE))
    args = ap.parse_args(argv)
    names = args.sets.split(",")
    records = [r for name in names for r in extract(name)]
    per_set = {name: sum(r["variant"] == "with" for r in records if r["set"] == name) for name in names}

    # (a) sentence scorer: every set weighs the same, each question the same within its set.
    rows = [r for r in records if r["variant"] == "with" and r["y"].any()]
    x = np.concatenate([r["x"] for r in rows])
    y = np.concatenate([r["y"] for r in rows]).astype(int)
    w = np.concatenate([np.full(len(r["y"]), 1000.0 / per_set[r["set"]] / len(r["y"])) for r in rows])
    sentence = fit_linear(x, y, w, c=1.0)
    top1 = np.mean([r["y"][np.argmax(logits(sentence, r["x"]))] for r in rows])

    # (b) gate over the question's best candidates.
    g, labels, weights, sets, answerable = [], [], [], [], []
    for r in records:
        s = logits(sentence, r["x"])
        chosen = np.argsort(-s)[:CHOSEN]
        if r["variant"] == "with":
            label = 1 if r["y"][chosen].any() else None
        else:
            label = None if r["still_holds"] else 0
        g.append(gate_features(r["x"], s))
        labels.append(label)
        weights.append(1000.0 / per_set[r["set"]])
        sets.append(r["set"])
        answerable.append(r["variant"] == "with" and r["gold_retrieved"])
    g, weights = np.array(g), np.array(weights)
    keep = np.array([lab is not None for lab in labels])
    gate = fit_linear(g[keep], np.array([lab for lab in labels if lab is not None]), weights[keep], c=1.0)
    p = sigmoid(logits(gate, g))
    # The highest cut at which no training set refuses more than the target share of its answerable questions,
    # one cut for questions whose best sentence is in their own language and one for the others: the two
    # kinds of evidence sit on different scales (the gate's best_cross weight is its largest).
    cross_col = GATE_FEATURES.index("best_cross")
    is_cross = g[:, cross_col] > 0.5
    cuts = {}
    for kind, mask in (("same", ~is_cross), ("cross", is_cross)):
        cut = 1.0
        for name in names:
            ps = np.sort(p[[a and s == name and m for a, s, m in zip(answerable, sets, mask)]])
            if len(ps) >= 10:
                cut = min(cut, float(ps[int(np.floor(TARGET_FALSE_REFUSALS * len(ps)))]))
        cuts[kind] = round(cut - 1e-6, 6)
    gate["threshold"] = min(cuts.values())
    gate["threshold_cross"] = cuts["cross"]
    gate["threshold_same"] = cuts["same"]
    cut_of = np.where(is_cross, cuts["cross"], cuts["same"])
    report = {}
    for name in names:
        ans = [i for i, (a, s) in enumerate(zip(answerable, sets)) if a and s == name]
        neg = [i for i, (lab, s) in enumerate(zip(labels, sets)) if lab == 0 and s == name]
        report[name] = {
            "answerable": len(ans),
            "false_refusals": round(float(np.mean(p[ans] < cut_of[ans])), 4) if ans else None,
            "removed_gold": len(neg),
            "removed_refused": round(float(np.mean(p[neg] < cut_of[neg])), 4) if neg else None,
        }
    data = {
        "about": "Learned extractive-answer model (issue 12); refit with `make answer-model` "
        "(bench/train_answer_model.py). Trained on DRCD test (CC BY-SA 3.0), CMRC 2018 trial and XQuAD even "
        "articles (CC BY-SA 4.0); see ../shared/data/SOURCES.md.",
        "sentence_features": SENTENCE_FEATURES,
        "gate_features": GATE_FEATURES,
        "sentence": sentence,
        "gate": gate,
        "training": {
            "questions": per_set,
            "sentence_top1_holds_span": round(float(top1), 4),
            "gate_at_threshold": report,
        },
    }
    Path(args.out).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(data["training"], indent=1))
    print("sentence weights:", dict(zip(SENTENCE_FEATURES, sentence["weights"])))
    print("gate weights:", dict(zip(GATE_FEATURES, gate["weights"])), "thresholds", cuts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
