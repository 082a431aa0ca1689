"""The int8 ONNX e5 encoder at run time (onnxruntime, numpy pooling): no torch import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.transformer import TransformerEmbedder
from rag.util import available_cpus

# Int8 ONNX encoder written next to the sentence-transformers files (rag.provision.onnx_int8).
ONNX_FILE = "model_int8.onnx"
# Left instead of ONNX_FILE when its build failed, so start-up does not retry it every time.
ONNX_FAILED_FILE = "model_int8.onnx.failed"
# The tokenizer the torch path uses (transformers' rebuild of tokenizer.json), saved for the ONNX path.
ONNX_TOKENIZER_FILE = "model_int8.tokenizer.json"


def folder_max_seq_length(folder: Path) -> int:
    """Tokens the sentence-transformers folder feeds its model, special tokens included."""
    try:
        n = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError):
        n = None
    limit = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    return int(min(x for x in (n, limit) if x)) if (n or limit) else 512


def encode_texts(tok: Any, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids with special tokens, truncated to max_len tokens in all (as sentence-transformers).

    `tok` is untruncated (it also counts tokens); the few over-long texts are truncated here.
    """
    n_special = tok.num_special_tokens_to_add(False)
    seqs = []
    for text, enc in zip(texts, tok.encode_batch(texts)):
        if len(enc.ids) > max_len:
            enc = tok.encode(text, add_special_tokens=False)
            enc.truncate(max_len - n_special)
            enc = tok.post_process(enc)
        seqs.append(enc.ids)
    return seqs


def pad_batch(seqs: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over unmasked tokens (prompt and special tokens included, as e5), then L2-normalise."""
    m = mask.astype(np.float32)
    v = np.einsum("bsd,bs->bd", hidden.astype(np.float32, copy=False), m) / np.maximum(m.sum(1, keepdims=True), 1.0)
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# onnxruntime 1.32's CPU SkipLayerNormalization (residual Add + LayerNorm, fused at load) measured
# ~20% of the int8 encoder's time; unfused Add + LayerNormalization take ~4%: +15-20% passages/s.
_ORT_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
# Forward batches are kept small so that their activations stay in cache: at most
# ONNX_FORWARD_TOKENS padded tokens and ONNX_MAX_FORWARD_BATCH sequences. Measured on 1 core,
# 256-token chunks: 1 per forward 24-28, 8 per forward 22-24, 32 per forward ~22 passages per
# CPU-second; short queries: 1 -> 105/s, 8 -> 260/s. A 256-token chunk then goes alone, which also
# makes its vector independent of its batch-mates (int8 activation scales are per forward call).
ONNX_FORWARD_TOKENS = 512
ONNX_MAX_FORWARD_BATCH = 8
# Worker threads that spin between ops burn a core another stage needs: while indexing, USE, keyword terms and
# Chroma run beside the encoder, and a laptop runs other programs. Measured on 2 cores, load ~8, 256-token chunks:
# 2 intra-op threads spinning 92-101 CPU-ms per chunk (130-150 ms wall), not spinning 43-50 (42-60 ms wall),
# 1 thread 39-42; one short query p50 21 -> 12 ms. bench.throughput sets it True to compare.
ONNX_SPIN = False


class OnnxSession:
    """onnxruntime CPU session for an encoder with inputs (input_ids, attention_mask) -> last_hidden_state."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        ort.disable_telemetry_events()  # besides ORT_DISABLE_TELEMETRY (rag.offline), which an earlier import missed
        self.threads = threads
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = threads  # more than usable cores only adds contention
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # errors only
        if not ONNX_SPIN:  # idle workers sleep instead
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(path), so, providers=["CPUExecutionProvider"], disabled_optimizers=_ORT_DISABLED_OPTIMIZERS
        )

    def embed(self, seqs: list[list[int]], batch_size: int, pad_id: int, dim: int | None = None) -> np.ndarray:
        """Pooled, normalised embeddings of token id sequences, batched by length, in input order."""
        if not seqs:
            return np.zeros((0, dim or 0), dtype=np.float32)
        cap = max(1, min(batch_size, ONNX_MAX_FORWARD_BATCH))
        lengths = np.array([len(s) for s in seqs])
        order = np.argsort(-lengths, kind="stable")  # similar lengths together: little padding
        out: np.ndarray | None = None
        start = 0
        while start < len(order):
            # Longest first, so the first sequence's length is the padded width.
            n = max(1, min(cap, ONNX_FORWARD_TOKENS // max(1, int(lengths[order[start]]))))
            idx = order[start : start + n]
            start += n
            ids, mask = pad_batch([seqs[i] for i in idx], pad_id)
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            emb = mean_pool_normalize(hidden, mask)
            if out is None:
                out = np.zeros((len(seqs), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        assert out is not None
        return out


class OnnxEmbedder(TransformerEmbedder):
    """Embedder on the folder's int8 ONNX encoder (onnxruntime, numpy pooling): no torch import.

    ~4x faster than torch fp32 on CPUs (2 cores), cosine >= 0.99 to it. Reads the
    sentence-transformers files of the folder (prompts, max_seq_length, dimension) and tokenises
    with the tokenizer saved beside the ONNX file, which is the one the torch path uses, so
    count_tokens/max_tokens are identical to TransformerEmbedder's on the same folder.
    """

    backend = "onnx"

    def __init__(self, model: str | Path, batch_size: int = 32, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        folder = Path(model)
        onnx_path = folder / ONNX_FILE
        if not onnx_path.is_file():
            raise FileNotFoundError(f"{onnx_path} (built by build_e5_onnx)")
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if not (pooling.get("pooling_mode_mean_tokens") and pooling.get("include_prompt", True)) or not any(
            m.get("type", "").endswith("Normalize") for m in modules
        ):
            raise ValueError(f"{folder}: OnnxEmbedder implements mean pooling (prompt included) + Normalize only")
        self.model = None  # no sentence-transformers model on this path
        self.batch_size = batch_size
        tok_path = folder / ONNX_TOKENIZER_FILE
        # Loading takes ~1 s (250k pieces), so one untruncated tokenizer counts and encodes.
        self._fast = Tokenizer.from_file(str(tok_path if tok_path.is_file() else folder / "tokenizer.json"))
        self._fast.no_truncation()
        self._fast.no_padding()
        self._n_special = int(self._fast.num_special_tokens_to_add(False))
        self._max_len = folder_max_seq_length(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self._dimension = int(pooling.get("word_embedding_dimension") or config["hidden_size"])
        pad = config.get("pad_token_id")
        self._pad_id = int(pad if pad is not None else (self._fast.token_to_id("<pad>") or 0))
        st_cfg_path = folder / "config_sentence_transformers.json"
        st_cfg = json.loads(st_cfg_path.read_text(encoding="utf-8")) if st_cfg_path.is_file() else {}
        self.prompts = dict(st_cfg.get("prompts") or {})
        self._passage_prompt = self._pick_prompt(self.passage_prompt_names)
        self._query_prompt = self._pick_prompt(self.query_prompt_names)
        self._session = OnnxSession(onnx_path, threads or available_cpus())

    def count_tokens(self, text: str) -> int:
        return len(self._fast.encode(text, add_special_tokens=False).ids)

    def token_ids(self, texts: list[str], prompt_name: str | None = None) -> list[list[int]]:
        """The ids the encoder sees: prompt + text, special tokens, truncated to max_seq_length."""
        prompt = self.prompts.get(prompt_name, "") if prompt_name else ""
        return encode_texts(self._fast, [prompt + t for t in texts], self._max_len)

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        seqs = self.token_ids(list(texts), prompt_name)
        return self._session.embed(seqs, self.batch_size, self._pad_id, self._dimension)
