"""jieba's dictionary from the cache folder's copy: the same dictionary and the same words as jieba's own start."""

from __future__ import annotations

import jieba
import pytest

from rag.text.jieba_dictionary import dictionary_file, load_jieba_dictionary

TEXT = "台积电的3奈米良率与英伟达的下一代架构, TPU能否取代GPU?"


def test_the_copy_is_jiebas_own_dictionary_and_cuts_the_same(tmp_path, monkeypatch):
    own = jieba.Tokenizer()
    own.initialize()
    first = jieba.Tokenizer()
    load_jieba_dictionary(tmp_path, first)  # no copy yet: jieba's way, then copied
    assert dictionary_file(tmp_path).is_file()
    monkeypatch.setattr(jieba.Tokenizer, "initialize", lambda self, *a: pytest.fail("loaded jieba's way again"))
    again = jieba.Tokenizer()
    load_jieba_dictionary(tmp_path, again)
    assert again.initialized and again.total == own.total and again.FREQ == own.FREQ
    assert again.lcut(TEXT) == own.lcut(TEXT) and again.lcut_for_search(TEXT) == own.lcut_for_search(TEXT)


def test_a_damaged_copy_is_replaced(tmp_path):
    load_jieba_dictionary(tmp_path, jieba.Tokenizer())
    path = dictionary_file(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    tokenizer = jieba.Tokenizer()
    load_jieba_dictionary(tmp_path, tokenizer)
    assert tokenizer.lcut(TEXT) == jieba.Tokenizer().lcut(TEXT)
    assert len(path.read_bytes()) > 1000
