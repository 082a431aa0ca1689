"""USE's loaded tokenizer and weights are kept in the cache folder: the next process loads them fast, same vectors."""

from __future__ import annotations

import numpy as np

from rag.embed.use import UseEmbedder, _cache_file

TEXTS = ["TPU能否取代GPU?", "HBM stacks DRAM dies next to the GPU."]


def test_the_second_load_comes_from_the_cache_and_gives_the_same_vectors(tmp_path):
    plain = UseEmbedder().embed_passages(TEXTS)
    first = UseEmbedder(cache_dir=tmp_path).embed_passages(TEXTS)
    assert _cache_file(tmp_path).is_file()
    again = UseEmbedder(cache_dir=tmp_path)
    assert np.array_equal(again.embed_queries(TEXTS), plain) and np.array_equal(first, plain)
    assert again.model._backend._threadpool is not None  # BLAS threads still limited after unpickling


def test_a_damaged_cache_file_is_loaded_the_slow_way_and_replaced(tmp_path):
    _cache_file(tmp_path).parent.mkdir(parents=True)
    _cache_file(tmp_path).write_bytes(b"not a pickle")
    assert UseEmbedder(cache_dir=tmp_path).embed_passages(TEXTS).shape == (2, 512)
    assert _cache_file(tmp_path).stat().st_size > 1_000_000


def test_the_cached_copy_runs_with_this_processs_thread_count(tmp_path):
    first = UseEmbedder(threads=2, cache_dir=tmp_path).embed_passages(TEXTS)  # pickles a backend set to 2
    again = UseEmbedder(threads=1, cache_dir=tmp_path)
    assert np.allclose(again.embed_passages(TEXTS), first, atol=1e-6)
    assert again.model._backend.threads == 1
