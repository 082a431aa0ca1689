"""Every user-facing sentence the answerers say, in each script: one place to read and change them."""

from __future__ import annotations

REFUSAL = {
    "zh-Hant": "文件中沒有找到相關內容。",
    "zh-Hans": "文件中没有找到相关内容。",
    "en": "The documents do not say.",
}

EMPTY_NOTEBOOK = {
    "zh-Hant": "筆記本還是空的：請先建立索引（rag index seeds/）。",
    "zh-Hans": "笔记本还是空的：请先建立索引（rag index seeds/）。",
    "en": "The notebook is empty: index some files first (rag index seeds/).",
}


def refusal(script: str) -> str:
    """The fixed sentence said when the documents do not contain the answer."""
    return REFUSAL.get(script, REFUSAL["en"])
