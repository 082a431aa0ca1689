"""The `rag` command: index, search, ask, serve, mcp, status, eval and settings over a notebook folder.

Every default comes from Settings (RAG_* variables), every failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from pydantic import SecretStr, ValidationError

from rag.errors import NotebookError
from rag.llm import BACKENDS
from rag.offline import go_offline
from rag.settings import Settings, settings_error
from rag.types import collect

EXIT_ERROR = 2  # a user error: bad setting, missing path, empty notebook
EXIT_BUG = 1  # anything unexpected
EXIT_SOME_FILES_FAILED = 3  # rag index: some files could not be indexed (each named on stderr), the rest was

INDEX_EXIT_STATUSES = f"""exit status:
  0  every file was indexed (or was already)
  {EXIT_SOME_FILES_FAILED}  some files could not be indexed: each is named in one line on stderr, the rest was indexed
  {EXIT_ERROR}  a path does not exist or a setting is wrong (the paths that exist are still indexed)
  {EXIT_BUG}  an unexpected error
  130  interrupted (Ctrl-C)
"""


def _notebook(settings: Settings, create: bool = False):
    """The notebook of the settings: a named one must exist unless `create` (rag index, rag serve make it). Commands
    open it in a `with`, so that its threads end before the process does."""
    from rag import Notebook

    if settings.notebook and not create:
        from rag.notebooks import Notebooks

        Notebooks(settings.path).get(settings.notebook)  # else one line naming the notebooks there are
    return Notebook(settings=settings)


def _require_documents(nb) -> None:
    if nb.is_empty():  # every result would be empty and look like a retrieval failure
        raise NotebookError(f"the notebook at {nb.path} is empty: index the documents first (rag index seeds/)")


INTERRUPTED = "rag: interrupted: files not finished stay out of the index; run `rag index` again to finish them"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


_told: set[str] = set()  # lines already printed on the way out: the hard exit does not repeat them


def tell_once(line: str) -> None:
    if line not in _told:
        _told.add(line)
        print(line, file=sys.stderr, flush=True)


def hard_exit(code: int, line: str) -> None:
    """The one way out that does not wait for threads: for a batch being embedded in native code (ONNX Runtime),
    which Python can neither interrupt nor safely tear the interpreter down under (that aborts: SIGABRT,
    "terminate called"). Safe for the index: a file is visible only once committed whole, and the next run reuses
    its stored batches. tests/ingest/test_indexer.py shows a Ctrl-C during such a batch ending in time."""
    tell_once(line)
    sys.stdout.flush()
    os._exit(code)


def _stop_within(grace: float) -> tuple:
    """Ctrl-C or SIGTERM: KeyboardInterrupt now, and a hard exit `grace` seconds later if a batch being embedded
    (native code, which Python cannot interrupt) still holds the process."""

    def stop(signum, frame):
        timer = threading.Timer(grace, hard_exit, (EXIT_INTERRUPTED, INTERRUPTED))
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, stop), signal.signal(signal.SIGTERM, stop)


def cmd_watch(found: list[Path], settings: Settings, json_lines: bool) -> int:
    """rag index --watch: catch up, then index each quiet batch of changes until Ctrl-C (exit 130)."""
    from ingest.watch import FolderWatcher

    def report(r) -> None:
        if json_lines:
            print(json.dumps(r.as_dict(), ensure_ascii=False), flush=True)

    previous = _stop_within(3.0)
    watcher = None
    try:
        with _notebook(settings, create=True) as nb:
            watcher = FolderWatcher(nb, found, on_report=report, progress=not json_lines)
            print(f"rag: watching {', '.join(map(str, found))} (Ctrl-C to stop)", file=sys.stderr, flush=True)
            try:
                watcher.run()
            finally:
                watcher.stop()
    except KeyboardInterrupt:
        busy = watcher is not None and watcher.busy
        tell_once(INTERRUPTED if busy else "rag: stopped watching")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    return 0


def cmd_index(args, settings: Settings) -> int:
    paths = args.paths or [settings.seeds]
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"rag: no such file or directory: {path}", file=sys.stderr)
    found = [p for p in paths if p.exists()]
    if found and args.watch:
        return cmd_watch(found, settings, args.json)
    if found:
        previous = _stop_within(3.0)
        try:
            with _notebook(settings, create=True) as nb:
                report = nb.index(*found, progress=not args.json)
        except KeyboardInterrupt:
            tell_once(INTERRUPTED)
            return EXIT_INTERRUPTED
        finally:
            signal.signal(signal.SIGINT, previous[0])  # main() called in-process (tests) gets its handlers back
            signal.signal(signal.SIGTERM, previous[1])
        if args.json:
            print(json.dumps(report.as_dict(), ensure_ascii=False))
        if report.errors and not missing:
            return EXIT_SOME_FILES_FAILED
    return EXIT_ERROR if missing else 0


def cmd_search(args, settings: Settings) -> int:
    k = settings.checked_k(args.k)  # before anything loads
    with _notebook(settings) as nb:
        _require_documents(nb)
        hits = nb.search(args.question, k=k)
    if args.json:
        keys = ("chunk_id", "source", "title", "section", "page", "text", "score")
        print(json.dumps({"hits": [{k: getattr(h, k) for k in keys} for h in hits]}, ensure_ascii=False))
        return 0
    for rank, h in enumerate(hits, 1):
        where = (
            f"{h.name or h.source}"
            + (f" · p. {h.page}" if h.page is not None else "")
            + (f" · {h.section}" if h.section else "")
        )
        print(f"{rank}. [{h.score:.4f}] {h.title} — {where}\n   {' '.join(h.text.split())[:300]}")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    changes = {"backend": args.backend, "llm_base_url": args.base_url, "llm_model": args.model}
    history = [(q, "") for q in args.after or []]  # the earlier questions a follow-up refers to
    with _notebook(settings.updated(**{k: v for k, v in changes.items() if v is not None})) as nb:
        if args.json:
            print(json.dumps(nb.ask(args.question, history=history).as_dict(), ensure_ascii=False))
            return 0
        answer = collect(
            nb.ask_events(args.question, history=history), on_delta=lambda text: print(text, end="", flush=True)
        )
    print()
    if answer.rewritten_query:
        print(f"(searched as: {answer.rewritten_query})")
    from rag.text import to_script

    for c in answer.citations:
        quote = to_script(c.quote, answer.script)  # in the asker's script, as the answer quotes it
        print(f"[{c.n}] {c.title} — {c.name or c.source}{f' · {c.where}' if c.where else ''}: {quote}")
    for claim in answer.unsupported:
        print(f"✗ unsupported, not shown: {claim}")
    for q in answer.suggestions:
        print(f"→ ask next: {q}")
    return 0


def cmd_guide(args, settings: Settings) -> int:
    """A source's guide (summary, key terms, questions), or with no source the notebook's overview."""
    nb = _notebook(settings)
    _require_documents(nb)
    guides = [nb.guide(args.source, args.script)] if args.source else nb.overview(args.script).guides
    if args.json:
        print(json.dumps([g.as_dict() for g in guides], ensure_ascii=False))
        return 0
    for g in guides:
        print(f"# {g.title} — {g.name or g.source}")
        print(g.summary)
        print("key terms: " + ", ".join(g.terms))
        for q in g.questions:
            print(f"  ? {q}")
        print()
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from rag.evaluate import evaluate, format_report, load_questions

    k = settings.checked_k(args.k)
    if not args.file.is_file():
        raise NotebookError(f"no such question file: {args.file}")
    try:
        questions = load_questions(args.file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NotebookError(f"{args.file}: not a JSONL question file ({err})") from err
    with _notebook(settings) as nb:
        _require_documents(nb)
        report = evaluate(nb, questions, k=k, answers=args.answers)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0


def cmd_status(args, settings: Settings) -> int:
    with _notebook(settings) as nb:
        print(json.dumps(nb.status(), ensure_ascii=False, indent=None if args.json else 2))
    return 0


def cmd_notebooks(args, settings: Settings) -> int:
    """rag notebooks [new NAME | rename NAME NEW | delete NAME]: list them, or make, rename or delete one."""
    from rag.notebooks import Notebooks

    shelf = Notebooks(settings.path)
    action, *names = args.words or ["list"]
    wanted = {"list": 0, "new": 1, "rename": 2, "delete": 1}
    if action not in wanted or len(names) != wanted[action]:
        raise NotebookError("usage: rag notebooks [new NAME | rename NAME NEW_NAME | delete NAME]")
    if action == "new":
        print(f"rag: made {shelf.create(names[0]).name!r}", file=sys.stderr)
    elif action == "rename":
        print(f"rag: renamed to {shelf.rename(*names).name!r}", file=sys.stderr)
    elif action == "delete":
        info = shelf.get(names[0])
        _notebook(settings.updated(notebook=info.id)).delete()
        print(f"rag: deleted {info.name!r}", file=sys.stderr)
        return 0
    every = shelf.list()
    if args.json:
        print(json.dumps({"notebooks": [i.as_dict() for i in every]}, ensure_ascii=False))
    elif action == "list":
        for info in every:
            print(f"{info.name}\t{info.folder}")
        if not every:
            print(
                f"rag: no notebooks under {settings.path} yet (rag --notebook NAME index FILES makes one)",
                file=sys.stderr,
            )
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _served(settings: Settings, host: str | None, port: int | None, port_setting: str) -> Settings:
    """The settings with --host and --port applied (each default: its RAG_* setting)."""
    changes = {"host": host, port_setting: port}
    return settings.updated(**{name: value for name, value in changes.items() if value is not None})


def cmd_serve(args, settings: Settings) -> int:
    from rag.home import safe_home
    from ui.app import serve

    previous = signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: Gradio closes the server, serve() returns
    try:
        # The home: not $HOME itself, / or a system folder unless RAG_HOME says so.
        stopped = serve(safe_home(_served(settings, args.host, args.port, "port")), index_seeds=args.index_seeds)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stopped is False:  # a batch still in ONNX Runtime
        hard_exit(0, "rag: server stopped")
    tell_once("rag: server stopped")
    return 0


def cmd_mcp(args, settings: Settings) -> int:
    from rag.home import safe_home
    from rag.mcp import serve as serve_mcp

    if not args.http and (args.host or args.port):
        raise NotebookError("--host and --port are for --http (streamable HTTP); without it rag mcp speaks over stdio")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: the HTTP server closes, serve returns
    try:
        serve_mcp(safe_home(_served(settings, args.host, args.port, "mcp_port")), http=args.http)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _shown(value) -> object:
    if isinstance(value, SecretStr):
        return str(value)  # "**********"
    return str(value) if isinstance(value, Path) else value


def cmd_settings(args, settings: Settings) -> int:
    grouped = settings.grouped()
    if args.json:
        print(json.dumps({g: {n: _shown(v) for n, v, _ in rows} for g, rows in grouped.items()}, ensure_ascii=False))
        return 0
    for group, rows in grouped.items():
        print(f"[{group}]")
        for name, value, description in rows:
            print(f"  {name}={_shown(value)}")
            if args.verbose:
                print(f"      {description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    defaults = Settings.model_fields
    parser = argparse.ArgumentParser(prog="rag", description="Offline bilingual research notebook.")
    parser.add_argument("--path", type=Path, help="data folder (default: $RAG_PATH or .rag/)")
    notebook_help = (
        "the notebook, by name (default: $RAG_NOTEBOOK, else the data folder itself); rag notebooks lists them"
    )
    parser.add_argument("--notebook", help=notebook_help)
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an unexpected error")
    # --path is accepted after the sub-command too (rag search Q --path x).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--path", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--notebook", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument(
        "--chroma-url", help="a Chroma server holding the chunks (default: $RAG_CHROMA_URL; none: the data folder)"
    )
    k_help = f"passages to return (default: $RAG_K or {defaults['k'].default})"
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "index",
        parents=[common],
        help="index files or folders (default: seeds/)",
        epilog=INDEX_EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: $RAG_SEEDS, the seeds/ folder)")
    p.add_argument(
        "--watch",
        action="store_true",
        help="then keep watching: index files as they appear, change and disappear, after $RAG_WATCH_DEBOUNCE "
        "quiet seconds (--json: one report per line); Ctrl-C stops",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", parents=[common], help="show the passages that match a question")
    p.add_argument("question")
    p.add_argument("-k", "--k", type=int, help=k_help)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    p.add_argument("question")
    p.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="answerer (default: $RAG_BACKEND or extractive): openai = any OpenAI-compatible server, "
        "llamacpp = local GGUF",
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $RAG_LLM_BASE_URL)")
    p.add_argument("--model", help="model name sent to the server (default: $RAG_LLM_MODEL)")
    p.add_argument(
        "--after", action="append", metavar="QUESTION",
        help="an earlier question of the conversation (repeat, oldest first): the question is a follow-up to it",
    )  # fmt: skip
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "guide", parents=[common], help="a source's guide (summary, key terms, questions), or the overview"
    )
    p.add_argument("source", nargs="?", help="an indexed source as `rag status`/`rag search` name it (default: all)")
    p.add_argument(
        "--script",
        choices=("zh-Hant", "zh-Hans", "en"),
        help="script of the Chinese text (default: RAG_DEFAULT_SCRIPT)",
    )
    p.set_defaults(func=cmd_guide)

    p = sub.add_parser("serve", parents=[common], help="open the chat in the browser")
    p.add_argument("--host", help=f"address to bind (default: $RAG_HOST or {defaults['host'].default})")
    p.add_argument("--port", type=int, help=f"port (default: $RAG_PORT or {defaults['port'].default})")
    p.add_argument("--index-seeds", action="store_true", help="index seeds/ before serving")
    p.set_defaults(func=cmd_serve)

    path_after = argparse.ArgumentParser(add_help=False)  # --path after `mcp` too, and no --json to mislead
    path_after.add_argument("--path", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    path_after.add_argument("--notebook", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p = sub.add_parser(
        "mcp",
        parents=[path_after],
        help="serve the notebook to agents over the Model Context Protocol (stdio, or --http)",
    )
    p.add_argument("--http", action="store_true", help="streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", help=f"address to bind with --http (default: $RAG_HOST or {defaults['host'].default})")
    p.add_argument(
        "--port", type=int, help=f"port with --http (default: $RAG_MCP_PORT or {defaults['mcp_port'].default})"
    )
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("eval", parents=[common], help="retrieval (and answer) metrics on a question file")
    p.add_argument(
        "file", type=Path, help="JSONL like tests/data/dev.jsonl: question, lang, type, evidence, answer_facts"
    )
    p.add_argument("-k", "--k", type=int, help=k_help)
    p.add_argument("--answers", action="store_true", help="also ask each question and score the answers")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("status", parents=[common], help="what the notebook holds")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "notebooks", parents=[common], help="list the notebooks (or: new NAME, rename NAME NEW, delete NAME)"
    )
    p.add_argument("words", nargs="*", metavar="ACTION", help="new NAME | rename NAME NEW_NAME | delete NAME")
    p.set_defaults(func=cmd_notebooks)

    p = sub.add_parser("settings", parents=[common], help="the settings in force (defaults, RAG_* variables), grouped")
    p.add_argument("-v", "--verbose", action="store_true", help="also say what each setting does")
    p.set_defaults(func=cmd_settings)
    return parser


def _fail(message: object, code: int = EXIT_ERROR) -> int:
    print(f"rag: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        given = {"path": args.path, "chroma_url": getattr(args, "chroma_url", None), "notebook": args.notebook}
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
        go_offline(allow_hub=settings.hub_model())
        return args.func(args, settings)
    except NotebookError as err:
        return _fail(err)
    except ValidationError as err:  # an assignment to a setting (validate_assignment) in library code
        return _fail(settings_error(err))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:
        if args.traceback:
            raise
        return _fail(f"unexpected {type(err).__name__}: {err} (rerun with --traceback for details)", EXIT_BUG)


if __name__ == "__main__":
    sys.exit(main())
