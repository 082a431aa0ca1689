"""rag.embed.transformer: the sentence-transformers embedder on the rebuilt e5 (prompts, order, token counts)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rag.embed.transformer import TransformerEmbedder
from tests.rag.e5_samples import TEXTS, _cos, small_batches


def test_embedder_uses_the_e5_prompts_and_keeps_input_order(embedder, engine):
    p = embedder.embed_passages(TEXTS)
    q = embedder.embed_queries(TEXTS)
    for got in (p, q):
        assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert _cos(p, engine.passage(TEXTS)).min() >= 0.999
    assert _cos(q, engine.query(TEXTS)).min() >= 0.999
    # Batched in token-length order, returned in input order: each row equals its own embedding.
    one_by_one = np.stack([embedder.embed_passages([t])[0] for t in TEXTS])
    with small_batches(embedder):
        assert _cos(embedder.embed_passages(TEXTS), one_by_one).min() > 0.9999
    assert embedder.embed_passages([]).shape == (0, 384)


def test_count_tokens_and_max_tokens(embedder):
    assert embedder.dimension == 384
    assert embedder.count_tokens("") == 0
    assert embedder.count_tokens("hello world") == 3  # ▁hell o ▁world, no <s> </s>
    assert 2 <= embedder.count_tokens("機器學習模型") <= 6
    long_text = "臺北捷運 MRT system 測試。" * 300
    embedder.embed_passages([long_text])  # the HF tokenizer truncates; counting must not
    assert embedder.count_tokens(long_text) > 1500
    # 512 positions - <s> </s> - "passage:" (2 tokens); a passage this long is not truncated.
    assert embedder.max_tokens == 508
    n = next(i for i in range(1, len(long_text)) if embedder.count_tokens(long_text[:i]) >= embedder.max_tokens)
    text = long_text[:n]
    if embedder.count_tokens(text) == embedder.max_tokens:
        ids = embedder.model.preprocess([text], prompt="passage: ")["input_ids"][0]
        assert len(ids) == 512 and int(ids[-1]) == 2  # ends with </s>, nothing cut


@pytest.mark.parametrize("backend", ["embedder", "onnx_embedder"])
def test_chinese_query_prefers_relevant_chinese_passage(request, backend):
    embedder = request.getfixturevalue(backend)
    passages = [
        "臺北捷運於1996年通車，第一條營運路線是木柵線（今文湖線）。",
        "The recipe calls for two cups of flour, one egg and a pinch of salt.",
        "Stock markets closed higher on Friday as tech shares rallied.",
    ]
    for query in ("台北捷運是哪一年開始營運的？", "台北捷运是哪一年开始运营的？"):
        scores = embedder.embed_passages(passages) @ embedder.embed_queries([query])[0]
        assert int(np.argmax(scores)) == 0, scores


def test_model_without_prompts_gets_no_prompt(model_dir, tmp_path, embedder):
    # Same weights, prompts removed: the TransformerEmbedder must fall back to plain encoding.
    bare = tmp_path / "bare"
    bare.mkdir()
    for p in model_dir.iterdir():
        if p.name != "config_sentence_transformers.json":
            os.symlink(p, bare / p.name)
    (bare / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {}, "default_prompt_name": None}))
    plain = TransformerEmbedder(bare)
    got = plain.embed_passages(TEXTS[:4])
    expected = embedder.model.encode(TEXTS[:4], normalize_embeddings=True)
    assert _cos(got, expected).min() > 0.9999
    assert _cos(plain.embed_queries(TEXTS[:4]), got).min() > 0.9999
    assert plain.max_tokens == 510
