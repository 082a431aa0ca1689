"""Add the int8 ONNX encoder to a built e5 folder: torch.onnx export, dynamic quantisation, self-check."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.onnx import (
    ONNX_FAILED_FILE,
    ONNX_FILE,
    ONNX_TOKENIZER_FILE,
    OnnxSession,
    encode_texts,
    folder_max_seq_length,
    mean_pool_normalize,
    pad_batch,
)
from rag.embed.transformer import counting_tokenizer
from rag.provision import fix_modes, step, write_json
from rag.util import available_cpus

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

    ids, mask = pad_batch(seqs, pad_id)
    with torch.inference_mode():
        h = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    return mean_pool_normalize(h.numpy(), mask)


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
    max_len = folder_max_seq_length(folder)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name.lstrip('.')}.onnx.", suffix=".tmp", dir=folder.parent))
    try:
        with _quiet_build(), step("e5 3/3: int8 ONNX encoder (export, quantize, check against torch)"):
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
                name: {i: n for n, i in axes.items()} for name in ("input_ids", "attention_mask", "last_hidden_state")
            }
            with torch.inference_mode(), step("  export to ONNX (fp32)"):
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
            with step("  quantize to int8"):
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

            tok = counting_tokenizer(AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer)
            tok.save(str(work / ONNX_TOKENIZER_FILE))
            ids = encode_texts(tok, _ONNX_CHECK_TEXTS, max_len)
            pad_id = int(cfg.get("pad_token_id") or 0)
            ref = _torch_reference(model, ids, pad_id)
            got = OnnxSession(work / ONNX_FILE, threads=available_cpus()).embed(ids, batch_size=8, pad_id=pad_id)
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
        fix_modes(work)
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
    write_json(tmp, info)
    os.replace(tmp, path)


def try_build_onnx(folder: Path) -> Path | None:
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
