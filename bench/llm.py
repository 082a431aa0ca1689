"""Local GGUF answer figures: model load, time to first token and tokens/s for one question, and dev answer metrics.

python -m bench.llm [--sizes 0.5b,1.5b] [--question 「TPU能否取代GPU?」] [--runs 3] [--eval tests/data/dev.jsonl]
Needs `make llm` (llama-cpp-python) and the GGUF files (`make llm`, `make llm-1.5b`). Results: bench/results/llm-*.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.run import WORK as BENCH_WORK
from bench.run import run_header, write_results
from rag.answer.context import answer_messages, fit_passages, passage_budget
from rag.evaluate import evaluate, format_report, load_questions
from rag.llm import chat_model
from rag.notebook import Notebook
from rag.offline import go_offline
from rag.provision.gguf import QWEN_GGUF
from rag.settings import Settings
from rag.text import detect_script
from rag.types import Delta, Final

WORK = BENCH_WORK / "llm"


def token_timings(nb: Notebook, question: str, runs: int) -> dict:
    """Model-level figures for the question with the default context (the prompt the answerer builds):
    prompt tokens, time to first token, generated tokens and tokens/s after the first, each run from an
    empty KV cache."""
    settings = nb.settings
    hits = nb.search(question)
    script = detect_script(question, settings.default_script)
    passages = fit_passages(hits, passage_budget(question, script, settings), settings)
    messages = answer_messages(question, script, passages, hits, settings)
    model = chat_model(settings, "llamacpp")
    t = time.perf_counter()
    llm = model.load()
    load_s = time.perf_counter() - t
    request = model._request(messages, None, {})
    rows = []
    for _ in range(runs):
        llm.reset()  # no prompt reuse between runs: each run pays the full prompt
        start = time.perf_counter()
        first = None
        pieces = 0
        text = []
        for part in llm.create_chat_completion(**request, stream=True):
            delta = part["choices"][0].get("delta", {}).get("content")
            if delta:
                pieces += 1  # llama-cpp-python streams one token per chunk
                text.append(delta)
                if first is None:
                    first = time.perf_counter()
        end = time.perf_counter()
        generated = len(llm.tokenize("".join(text).encode("utf-8"), add_bos=False)) if text else 0
        rows.append(
            {
                "ttft_s": round((first or end) - start, 2),
                "generated_tokens": generated,
                "stream_chunks": pieces,
                "tokens_per_s": round((generated - 1) / (end - first), 1)
                if first and end > first and generated > 1
                else None,
                "total_s": round(end - start, 2),
            }
        )
    usage = llm.create_chat_completion(**{**request, "max_tokens": 1})["usage"]
    return {
        "question": question,
        "passages": len(passages),
        "prompt_tokens": usage.get("prompt_tokens"),
        "model_load_s": round(load_s, 2),
        "runs": rows,
        "ttft_s_median": round(statistics.median(r["ttft_s"] for r in rows), 2),
        "tokens_per_s_median": round(statistics.median(r["tokens_per_s"] for r in rows if r["tokens_per_s"]), 1),
        "sample_answer": "".join(text)[:400],
    }


def answer_timing(nb: Notebook, question: str) -> dict:
    """The product path (retrieval, generation, verification): time to the first verified piece and to the Answer."""
    chat_model(nb.settings, "llamacpp").load().reset()  # the same prompt as token_timings: no cached prefix
    start = time.perf_counter()
    first = None
    for event in nb.ask_events(question):
        if isinstance(event, Delta) and first is None:
            first = time.perf_counter()
        if isinstance(event, Final):
            answer = event.answer
    end = time.perf_counter()
    return {
        "first_piece_s": round((first or end) - start, 2),
        "answer_s": round(end - start, 2),
        "backend": answer.backend,
        "notice": answer.notice,
        "unsupported": answer.unsupported,
        "text": answer.text,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.llm")
    ap.add_argument("--sizes", default="0.5b,1.5b", help="Qwen2.5-Coder sizes to run (files under .cache/models)")
    ap.add_argument("--question", default="TPU能否取代GPU?")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--eval", default=None, help="also answer this question file (e.g. tests/data/dev.jsonl)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    go_offline()  # before any model loads (importing this module loads none)

    base = Settings(path=WORK / ".rag", home=WORK)
    nb = Notebook(settings=base)
    nb.index(base.seeds, progress=False)
    result: dict = {**run_header(), "models": {}}
    if args.eval:
        report = evaluate(nb, load_questions(args.eval), answers=True)
        result["extractive_eval"] = {k: v for k, v in report.items() if k != "rows"}
        print("extractive\n" + format_report(report), flush=True)
    for size in [s for s in args.sizes.split(",") if s]:
        path = base.cache_dir / "models" / QWEN_GGUF[size].name
        if not path.exists():
            print(f"skip {size}: {path} missing (make llm / make llm-1.5b)")
            continue
        nb.use_backend("llamacpp", gguf_path=path)
        figures = token_timings(nb, args.question, args.runs)
        figures["answer"] = answer_timing(nb, args.question)
        if args.eval:
            report = evaluate(nb, load_questions(args.eval), answers=True)
            figures["eval"] = {k: v for k, v in report.items() if k != "rows"}
            figures["eval_rows"] = [
                {k: r.get(k) for k in ("id", "refused", "fact_recall", "citation_precision", "answer")}
                for r in report["rows"]
            ]
            print(f"{size}\n" + format_report(report), flush=True)
        result["models"][size] = figures
        print(
            json.dumps(
                {k: v for k, v in figures.items() if k not in ("eval_rows", "eval")}, ensure_ascii=False, indent=1
            ),
            flush=True,
        )

    print(write_results(f"llm-{result['commit']}{'-' + args.tag if args.tag else ''}", result, markdown(result)))
    return 0


def markdown(result: dict) -> str:
    lines = [
        f"# Local GGUF answers — commit {result['commit']}, {result['when']}",
        "",
        f"Machine: {result['machine']}",
        "",
        "| model | load s | prompt tokens | TTFT s (median) | tokens/s (median) | first verified piece s | answer s |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, f in result["models"].items():
        a = f["answer"]
        lines.append(
            f"| Qwen2.5-Coder-{size} Q4_K_M | {f['model_load_s']} | {f['prompt_tokens']} | {f['ttft_s_median']} | "
            f"{f['tokens_per_s_median']} | {a['first_piece_s']} | {a['answer_s']} |"
        )
    evals = {"extractive": result.get("extractive_eval")} | {s: f.get("eval") for s, f in result["models"].items()}
    if any(evals.values()):
        lines += [
            "",
            "| backend | fact recall | citation precision | refusal accuracy (unanswerable) | false refusals |",
            "|---|---|---|---|---|",
        ]
        for name, e in evals.items():
            if e:
                a = e["answers"]["all"]
                lines.append(
                    f"| {name} | {a.get('fact_recall')} | {a.get('citation_precision')} | "
                    f"{e['answers'].get('refusal_accuracy_unanswerable')} | {e['answers'].get('false_refusals')} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
