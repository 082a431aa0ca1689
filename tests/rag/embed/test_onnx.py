"""rag.embed.onnx and load_embedder: the int8 ONNX encoder agrees with the torch one, and starts without torch."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import load_embedder
from rag.embed.onnx import OnnxEmbedder
from tests.rag.e5_samples import CHUNK_TEXT, EDGE_TEXTS, LONG_TEXT, TEXTS, _cos, small_batches
from tests.rag.python_process import run_python


@pytest.mark.parametrize("method", ["embed_passages", "embed_queries"])
def test_onnx_embedder_agrees_with_torch(onnx_embedder, embedder, method):
    texts = TEXTS + EDGE_TEXTS + [LONG_TEXT, CHUNK_TEXT]
    got = getattr(onnx_embedder, method)(texts)
    ref = getattr(embedder, method)(texts)
    assert got.dtype == np.float32 and got.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = dict(zip(texts, _cos(got, ref).round(5)))
    # Measured min 0.9965 / mean 0.998 on these texts (0.9963 / 0.9982 on 300 real 256-token
    # chunks), 0.9935 for the whitespace-only ones (the prompt alone); a wrong prompt, pooling,
    # truncation or tokenizer drops far below.
    assert min(c for t, c in cos.items() if t.strip()) >= 0.995, cos
    assert min(cos.values()) >= 0.99, cos
    assert np.mean(list(cos.values())) >= 0.997, cos


def test_onnx_embedder_tokenises_and_counts_like_torch(onnx_embedder, embedder):
    texts = TEXTS + EDGE_TEXTS + [LONG_TEXT, CHUNK_TEXT]
    assert [onnx_embedder.count_tokens(t) for t in texts] == [embedder.count_tokens(t) for t in texts]
    assert onnx_embedder.max_tokens == embedder.max_tokens == 508
    assert onnx_embedder.dimension == embedder.dimension == 384
    # The ids the encoder sees equal sentence-transformers' (prompt, <s> </s>, truncation to 512).
    for kind in ("passage", "query"):
        feats = embedder.model.preprocess(texts, prompt=f"{kind}: ")
        rows = zip(feats["input_ids"], feats["attention_mask"])
        expected = [[int(i) for i, m in zip(ids, mask) if m] for ids, mask in rows]
        assert onnx_embedder.token_ids(texts, kind) == expected
    assert len(onnx_embedder.token_ids([LONG_TEXT], "passage")[0]) == 512


def test_onnx_embedder_keeps_input_order(onnx_embedder):
    texts = TEXTS + [CHUNK_TEXT, LONG_TEXT]
    one_by_one = np.stack([onnx_embedder.embed_passages([t])[0] for t in texts])
    with small_batches(onnx_embedder):
        # int8 activation scales are per forward call, so batch-mates shift short texts slightly
        # (measured 0.997); a row landing in the wrong place scores far lower.
        assert _cos(onnx_embedder.embed_passages(texts), one_by_one).min() > 0.99
    # Texts over half of ONNX_FORWARD_TOKENS are encoded alone: their vectors do not depend on the batch.
    assert _cos(onnx_embedder.embed_passages([LONG_TEXT] + TEXTS)[:1], one_by_one[-1:]).min() > 0.99999
    assert onnx_embedder.embed_passages([]).shape == (0, 384)
    assert onnx_embedder.embed_queries([]).shape == (0, 384)


def test_onnx_embedder_ranks_like_torch_across_languages(onnx_embedder, embedder):
    passages = [
        "臺北捷運於1996年通車，第一條營運路線是木柵線（今文湖線）。",
        "The recipe calls for two cups of flour, one egg and a pinch of salt.",
        "股市週五收高，科技股領漲。",
        "退稅申請可於每年五月透過網路報稅系統辦理。",
    ]
    queries = ["When did the Taipei MRT open?", "Why did stocks rise on Friday?", "How do I apply for a tax refund?"]
    gold = [0, 2, 3]
    scores = {}
    for name, emb in (("torch", embedder), ("onnx", onnx_embedder)):
        scores[name] = emb.embed_queries(queries) @ emb.embed_passages(passages).T
        assert scores[name].argmax(1).tolist() == gold, (name, scores[name])
    # Same scores up to int8 noise (measured max difference 0.011 on a larger set).
    assert np.abs(scores["onnx"] - scores["torch"]).max() < 0.03


@pytest.mark.process
def test_onnx_path_starts_without_torch(model_dir):
    code = (
        "import sys, time; t = time.perf_counter(); from rag.embed import load_embedder; "
        "e = load_embedder(sys.argv[1]); v = e.embed_queries(['台北捷運是哪一年開始營運的？']); "
        "assert type(e).__name__ == 'OnnxEmbedder' and v.shape == (1, 384); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)); "
        "print(round(time.perf_counter() - t, 2), file=sys.stderr)"
    )
    out = run_python(code, model_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # ~1.5 s to a first query instead of ~8 s with torch


def test_load_embedder_backends(model_dir, tmp_path):
    assert type(load_embedder(model_dir, backend="onnx")) is OnnxEmbedder
    with pytest.raises(ValueError):
        load_embedder(model_dir, backend="tensorflow")
    with pytest.raises(FileNotFoundError):
        OnnxEmbedder(tmp_path)
