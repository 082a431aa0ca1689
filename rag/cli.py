"""The `rag` command: index, search, ask, serve, status (and eval) over a notebook folder."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _notebook(args):
    from rag import Notebook

    return Notebook(path=args.path)


def cmd_index(args) -> int:
    nb = _notebook(args)
    report = nb.index(*(args.paths or [nb.settings.seeds]), progress=not args.json)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    return 0


def cmd_search(args) -> int:
    hits = _notebook(args).search(args.question, k=args.k)
    if args.json:
        keys = ("chunk_id", "source", "title", "text", "score")
        print(json.dumps({"hits": [{k: getattr(h, k) for k in keys} for h in hits]}, ensure_ascii=False))
        return 0
    for rank, h in enumerate(hits, 1):
        where = f"{h.source}" + (f" · {h.section}" if h.section else "")
        print(f"{rank}. [{h.score:.4f}] {h.title} — {where}\n   {' '.join(h.text.split())[:300]}")
    return 0


def cmd_ask(args) -> int:
    nb = _notebook(args)
    llm = {"llm_base_url": args.base_url, "llm_model": args.model}
    llm = {k: v for k, v in llm.items() if v is not None}
    if args.backend or llm:
        nb.use_backend(args.backend or nb.settings.backend, **llm)
    if args.json:
        print(json.dumps(nb.ask(args.question).as_dict(), ensure_ascii=False))
        return 0
    answer = None
    for event in nb.ask_events(args.question):
        if isinstance(event, str):
            print(event, end="", flush=True)
        else:
            answer = event
    print()
    for c in answer.citations if answer else []:
        print(f"[{c.n}] {c.title} — {c.source}: {c.quote}")
    for claim in answer.unsupported if answer else []:
        print(f"✗ unsupported, not shown: {claim}")
    return 0


def cmd_eval(args) -> int:
    from rag.evaluate import evaluate, format_report, load_questions

    nb = _notebook(args)
    if nb.is_empty():  # every metric would be 0 and look like a retrieval failure
        print(f"rag eval: the notebook at {nb.path} is empty: index the documents first (rag index seeds/)", file=sys.stderr)
        return 2
    report = evaluate(nb, load_questions(args.file), k=args.k, answers=args.answers)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0


def cmd_status(args) -> int:
    print(json.dumps(_notebook(args).status(), ensure_ascii=False, indent=None if args.json else 2))
    return 0


def cmd_serve(args) -> int:
    from ui.app import serve

    serve(path=args.path, host=args.host, port=args.port, index_seeds=args.index_seeds)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Offline bilingual research notebook.")
    parser.add_argument(
        "--path", default=os.environ.get("RAG_PATH", ".rag"), help="data folder (default: $RAG_PATH or .rag/)"
    )
    # --path is accepted after the sub-command too (rag search Q --path x).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--path", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="index files or folders (default: seeds/)")
    p.add_argument("paths", nargs="*", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", parents=[common], help="show the passages that match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--backend",
        choices=["extractive", "openai", "llamacpp"],
        help="answerer (default: $RAG_BACKEND or extractive): openai = any OpenAI-compatible server, llamacpp = local GGUF",
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $RAG_LLM_BASE_URL)")
    p.add_argument("--model", help="model name sent to the server (default: $RAG_LLM_MODEL)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", parents=[common], help="open the chat in the browser")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index-seeds", action="store_true", help="index seeds/ before serving")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[common], help="retrieval (and answer) metrics on a question file")
    p.add_argument("file", type=Path, help="JSONL like eval/dev.jsonl: question, lang, type, evidence, answer_facts")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--answers", action="store_true", help="also ask each question and score the answers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("status", parents=[common], help="what the notebook holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
