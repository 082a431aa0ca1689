"""The sentence-transformers (torch) embedder: prompt-aware passage/query embeddings and token counting."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.util import available_cpus

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def counting_tokenizer(tok: Any) -> Any:
    """An untruncated, unpadded copy of a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(tok.to_str())
    own.no_truncation()
    own.no_padding()
    return own


class TransformerEmbedder:
    """Sentence-transformers wrapper: prompt-aware passage/query embeddings and token counting.

    Works with any sentence-transformers model (torch). For the offline e5 folder, load_embedder()
    returns the faster OnnxEmbedder (rag.embed.onnx), which has the same interface.
    """

    passage_prompt_names: tuple[str, ...] = ("passage", "document")
    query_prompt_names: tuple[str, ...] = ("query",)
    backend = "torch"

    def __init__(self, model: str | Path, batch_size: int = 32, device: str = "cpu") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # More threads than usable cores only adds contention (2-core machines).
        if torch.get_num_threads() > available_cpus():
            torch.set_num_threads(available_cpus())
        self.batch_size = batch_size
        # fp16/bf16 checkpoints would otherwise compute in half precision, which is slow on CPUs.
        kwargs = {"model_kwargs": {"dtype": torch.float32}} if device.startswith("cpu") else {}
        self.model: SentenceTransformer = SentenceTransformer(str(model), device=device, **kwargs)
        self.model.eval()
        hf_tok = self.model.tokenizer
        self._n_special = int(hf_tok.num_special_tokens_to_add(pair=False))
        backend = getattr(hf_tok, "backend_tokenizer", None)
        # Own copy: the HF wrapper mutates its backend's truncation/padding on every call, which
        # would cap counts at max_seq_length.
        self._fast = counting_tokenizer(backend) if backend is not None else None
        self.prompts: dict[str, str] = dict(getattr(self.model, "prompts", None) or {})
        self._max_len = int(self.model.max_seq_length or self.model.tokenizer.model_max_length)
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self._dimension = int(get())
        self._passage_prompt = self._pick_prompt(self.passage_prompt_names)
        self._query_prompt = self._pick_prompt(self.query_prompt_names)

    def _pick_prompt(self, names: tuple[str, ...]) -> str | None:
        # sentence-transformers 6 adds an empty "document" prompt; only non-empty prompts count.
        return next((n for n in names if self.prompts.get(n)), None)

    # -- tokens

    def _token_lengths(self, texts: list[str]) -> list[int]:
        if self._fast is not None:
            return [len(e.ids) for e in self._fast.encode_batch(texts, add_special_tokens=False)]
        return [self.count_tokens(t) for t in texts]

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without special tokens or prompt (untruncated)."""
        if self._fast is not None:
            return len(self._fast.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def max_tokens(self) -> int:
        """Largest count_tokens() of a passage that the model sees without truncation."""
        prompt = self.prompts[self._passage_prompt] if self._passage_prompt else ""
        # The prompt's trailing space merges into the text's first "▁" token, so this is exact.
        prompt_tokens = self.count_tokens(prompt) if prompt else 0
        return self._max_seq_length - self._n_special - prompt_tokens

    @property
    def _max_seq_length(self) -> int:
        return self._max_len

    @property
    def dimension(self) -> int:
        return self._dimension

    # -- embeddings

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers sorts by characters; zh packs ~3x more tokens per character than
        # en, so sorting by tokens groups similar lengths and wastes less padding.
        lengths = np.minimum(self._token_lengths(texts), self._max_seq_length)
        order = np.argsort(-lengths, kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                emb = self.model.encode(
                    [texts[i] for i in idx],
                    prompt_name=prompt_name,
                    batch_size=len(idx),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                out[idx] = emb
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dimension) float32, L2-normalised, with the passage prompt when the model has one."""
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dimension) float32, L2-normalised, with the query prompt when the model has one."""
        return self._encode(texts, self._query_prompt)
