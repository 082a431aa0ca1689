"""The fused embedder (e5 + USE) runs its parts side by side for several texts: the same vectors as in turn."""

from __future__ import annotations

import numpy as np
import pytest

from rag import Notebook
from rag.embed import fused

TEXTS = [
    "臺北捷運於1996年通車，第一條路線是文湖線。",
    "北京是中华人民共和国的首都，也是政治和文化中心。",
    "The mitochondria is the powerhouse of the cell.",
    "NVIDIA 的 GPU 在 AI 訓練市場佔有率超過八成, while AMD is catching up.",
]


@pytest.fixture(scope="module")
def dense(tmp_path_factory):
    home = tmp_path_factory.mktemp("fused")
    return Notebook(path=home / ".rag", home=home).dense_embedder


def test_parts_side_by_side_give_the_vectors_they_give_in_turn(dense, monkeypatch):
    side_by_side = dense.embed_passages(TEXTS)
    monkeypatch.setattr(fused, "PARALLEL_FROM", 10**9)
    in_turn = dense.embed_passages(TEXTS)
    assert side_by_side.shape == (len(TEXTS), dense.dimension)
    assert np.allclose(side_by_side, in_turn, atol=1e-6)
    # Each part in its own columns, in order, weighted: e5 first, then USE.
    start = 0
    for (part, _), scale in zip(dense.parts, dense.scales):
        own = part.embed_passages(TEXTS) * scale
        assert np.allclose(side_by_side[:, start : start + part.dimension], own, atol=1e-6)
        start += part.dimension
    assert np.allclose(np.linalg.norm(side_by_side, axis=1), 1.0, atol=1e-5)


def test_an_error_in_a_part_beside_the_first_reaches_the_caller(dense, monkeypatch):
    second = dense.parts[1][0]

    def broken(texts):
        raise RuntimeError("USE failed")

    monkeypatch.setattr(second, "embed_passages", broken)
    with pytest.raises(RuntimeError, match="USE failed"):
        dense.embed_passages(TEXTS)
