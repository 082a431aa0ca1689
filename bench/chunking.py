"""`make bench-chunking`: time to chunk 10 KB .. 10 MB of unbroken CJK, minified JSON and base64 with the real tokenizer,
and the whole seed corpus (its bound was a test's; a figure on a busy machine is a benchmark's)."""

from __future__ import annotations

import argparse
import base64
import json
import random
import time
from pathlib import Path

from ingest.chunker import Chunker
from ingest.documents import Document
from rag.offline import go_offline
from rag.settings import Settings

SIZES = {"10 KB": 10_000, "100 KB": 100_000, "1 MB": 1_000_000, "10 MB": 10_000_000}


def unbroken_cjk(n: int, rng: random.Random) -> str:
    """Chinese characters with no punctuation, space or newline."""
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def minified_json(n: int, rng: random.Random) -> str:
    """One line of JSON records with no whitespace, as a bundler writes it."""
    parts, size = [], 0
    while size < n:
        record = {"id": rng.randint(0, 10**9), "name": f"item{rng.randint(0, 9999)}", "tags": ["a", "b"]}
        record = json.dumps(record, separators=(",", ":"))
        parts.append(record)
        size += len(record) + 1
    return ("[" + ",".join(parts) + "]")[:n]


def base64_blob(n: int, rng: random.Random) -> str:
    """A Markdown image inlined as base64, one unbroken line."""
    payload = base64.b64encode(rng.randbytes(n * 3 // 4 + 3)).decode()
    return ("![figure](data:image/png;base64," + payload)[:n] + ")"


KINDS = {"CJK": unbroken_cjk, "JSON": minified_json, "base64": base64_blob}


def real_count_tokens(settings: Settings):
    """The default embedder's tokenizer (untruncated), as the notebook counts chunk sizes, without loading the model."""
    from tokenizers import Tokenizer

    from rag.embed import offline_e5_folder

    folder = offline_e5_folder(settings.cache_dir)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def chunk_time(chunker: Chunker, text: str) -> tuple[float, int]:
    doc = Document(source="bench.txt", path=Path("bench.txt"), text=text, title="bench", sha256="0")
    began = time.perf_counter()
    chunks = chunker.split(doc)
    return time.perf_counter() - began, len(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES), help="which sizes to time")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="skip larger sizes of a kind once one took longer (s)"
    )
    args = parser.parse_args()
    go_offline()
    settings = Settings()
    # The notebook's chunker settings (rag.notebook.Notebook.chunker), e5's 512-token window.
    count = real_count_tokens(settings)
    chunker = Chunker(count, settings.chunk_tokens, settings.chunk_overlap, min(settings.chunk_tokens, 512 - 2 - 64))
    rng = random.Random(13)
    print(f"{'text':<8} {'size':>7} {'seconds':>9} {'chunks':>8} {'µs/char':>8}")
    for kind, make in KINDS.items():
        slow = False
        for label in args.sizes:
            if slow:
                print(f"{kind:<8} {label:>7} {'skipped':>9}")
                continue
            text = make(SIZES[label], rng)
            seconds, chunks = chunk_time(chunker, text)
            print(f"{kind:<8} {label:>7} {seconds:>9.2f} {chunks:>8} {1e6 * seconds / len(text):>8.2f}", flush=True)
            slow = seconds > args.budget
    from ingest.loaders import load_document

    seeds = sorted(Path(settings.seeds).glob("*.txt"))
    docs = [load_document(p, Path(settings.seeds)) for p in seeds]
    began = time.perf_counter()
    chunks = sum(len(chunker.split(doc)) for doc in docs)
    size = sum(len(doc.text) for doc in docs)
    print(f"{'seeds':<8} {size // 1000:>4} KB {time.perf_counter() - began:>9.2f} {chunks:>8}  ({len(docs)} files)")


if __name__ == "__main__":
    main()
