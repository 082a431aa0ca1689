"""Generative answers over the real seeds notebook, with the LLM replaced at the network boundary only:
a fake OpenAI-compatible server on 127.0.0.1 (FakeOpenAIServer) that speaks /v1/chat/completions with
SSE streaming. Everything on our side (langchain-openai, retrieval, verification, OpenCC) is real.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.answer.context import count_tokens, fit_passages
from rag.answer.generative import GenerativeAnswerer
from rag.embed.fused import cross_lingual_embedder
from rag.llm import backends, chat_model, gguf_path, llama_cpp_installed
from rag.messages import REFUSAL
from rag.text import detect_script, sentence_spans, simplified_chars, traditional_chars
from rag.types import AnswerRequest, Delta, Final

TPU_QUESTION = "TPU能否取代GPU?"


# ---------------------------------------------------------------- the fake at the network boundary


class FakeOpenAIServer:
    """A stand-in for an OpenAI-compatible chat server (llama.cpp server, Ollama…) on a free local port.

    `reply(request_json)` returns a dict: "pieces" (content chunks to stream), "delay" (seconds between
    chunks), "status" (HTTP status; ≠ 200 sends an OpenAI-style error body), "sleep" (seconds before
    answering at all). Requests and the time the last chunk was sent are recorded.
    """

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []
        self.finished_at: float | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append({"path": self.path, **body})
                plan = server.reply(body)
                time.sleep(plan.get("sleep", 0))
                status = plan.get("status", 200)
                try:
                    if status != 200:
                        payload = json.dumps({"error": {"message": "model crashed", "type": "server_error"}}).encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in plan.get("pieces", []):
                        self._event({"delta": {"role": "assistant", "content": piece}, "finish_reason": None})
                        time.sleep(plan.get("delay", 0))
                    self._event({"delta": {}, "finish_reason": "stop"})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    server.finished_at = time.monotonic()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def _event(self, choice):
                chunk = {"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": "fake-model",
                         "choices": [{"index": 0, **choice}]}  # fmt: skip
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def passages_in(request: dict) -> dict[int, str]:
    """The numbered passages of an answer prompt, as the model sees them."""
    user = request["messages"][-1]["content"]
    blocks = re.split(r"\n\n(?=\[\d+\] )", user.split("Passages:\n\n", 1)[1].split("\n\nQuestion:", 1)[0])
    return {int(b[1 : b.index("]")]): b.split("\n", 1)[1] for b in blocks if "\n" in b}


def sentences_with(text: str, word: str) -> list[str]:
    """Whole sentences (with their full stop) of a passage that mention `word`."""
    spans = [text[a:b] for a, b in sentence_spans(text)]
    return [s for s in spans if word in s and len(s) > 15 and s.endswith(("。", "！", "？", ".", "!", "?"))]


def chunks(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tpu_hits(seeds_notebook):
    return seeds_notebook.search(TPU_QUESTION)


def answerer(nb, url: str, **settings) -> GenerativeAnswerer:
    s = nb.settings.model_copy(update={"backend": "openai", "llm_base_url": url, "llm_model": "fake-model", **settings})
    return GenerativeAnswerer(chat_model(s), nb.answerer, s, "openai", url, cross_lingual_embedder(nb.dense_embedder))


def run(answerer_, question, hits, **extra):
    started = time.monotonic()
    pieces, times, answer = [], [], None
    for event in answerer_.stream(AnswerRequest(question=question, hits=hits, **extra)):
        if isinstance(event, Final):
            answer = event.answer
        elif isinstance(event, Delta):
            pieces.append(event.text)
            times.append(time.monotonic() - started)
    return pieces, times, answer


def assert_quotes_verbatim(nb, answer):
    chunks_ = {c.chunk_id: c.text for c in nb.chunks([c.chunk_id for c in answer.citations])}
    for c in answer.citations:
        assert c.quote in chunks_[c.chunk_id]
        assert f"[{c.n}]" in answer.text


# ---------------------------------------------------------------- protocol


def test_verified_sentences_stream_as_the_server_sends_them(seeds_notebook, tpu_hits):
    def reply(request):
        p = passages_in(request)
        n = next(n for n, t in p.items() if len(sentences_with(t, "TPU")) >= 2)
        first, second = sentences_with(p[n], "TPU")[:2]
        return {"pieces": chunks(f"{first} [{n}]{second} [{n}]"), "delay": 0.05}

    with FakeOpenAIServer(reply) as server:
        started = time.monotonic()
        pieces, times, answer = run(answerer(seeds_notebook, server.url), TPU_QUESTION, tpu_hits)
    assert len(pieces) == 2 and "".join(pieces) == answer.text
    assert started + times[0] < server.finished_at  # the first sentence was shown before the server finished
    assert answer.backend == "openai" and not answer.refused and not answer.notice and answer.unsupported == []
    assert [c.n for c in answer.citations] == [1, 1] and answer.text.count("[1]") == 2
    assert_quotes_verbatim(seeds_notebook, answer)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["stream"] is True and request["model"] == "fake-model"
    system = request["messages"][0]["content"]
    assert "繁體中文" in system and REFUSAL["zh-Hant"] in system


def test_the_prompt_fits_the_token_budget_trimming_lowest_ranked_passages(seeds_notebook, tpu_hits):
    s = seeds_notebook.settings
    full = [count_tokens(h.text, s) for h in tpu_hits]
    budget = sum(full[:2]) + 150  # two passages and part of the third
    kept = fit_passages(tpu_hits, budget, s)
    assert [p.hit_index for p in kept] == list(range(len(kept)))  # a prefix of the ranking
    assert sum(count_tokens(f"[{p.n}] x\n{p.text}", s) for p in kept) <= budget + 50 * len(kept)
    cut = kept[-1]
    assert cut.shortened and len(kept) <= 3
    hit_text = tpu_hits[cut.hit_index].text
    assert cut.text == hit_text[cut.offset : cut.offset + len(cut.text)]
    ends = {b for _, b in sentence_spans(hit_text)}
    assert cut.offset + len(cut.text) in ends  # never cut mid-sentence

    with FakeOpenAIServer(lambda r: {"pieces": ["The documents do not say."]}) as server:
        run(
            answerer(seeds_notebook, server.url, llm_max_context_tokens=1200, llm_answer_tokens=200),
            TPU_QUESTION,
            tpu_hits,
        )
    prompt = "".join(m["content"] for m in server.requests[0]["messages"])
    assert count_tokens(prompt, s) <= 1200 - 200


def test_http_500_shows_one_line_and_the_extractive_answer(seeds_notebook, tpu_hits):
    with FakeOpenAIServer(lambda r: {"status": 500}) as server:
        pieces, _, answer = run(answerer(seeds_notebook, server.url), TPU_QUESTION, tpu_hits)
    extractive = seeds_notebook.answerer.invoke(AnswerRequest(question=TPU_QUESTION, hits=tpu_hits))
    assert answer.notice == f"LLM 伺服器 {server.url} 回傳錯誤（HTTP 500: model crashed）；以下改為摘錄式回答。"
    assert pieces[0] == answer.notice + "\n"
    assert answer.text == answer.notice + "\n" + extractive.text and "".join(pieces) == answer.text
    assert answer.backend == "extractive" and answer.citations == extractive.citations


def test_a_timeout_shows_one_line_and_the_extractive_answer(seeds_notebook):
    question = "how profitable is the DRAM business over a cycle?"
    hits = seeds_notebook.search(question)
    with FakeOpenAIServer(lambda r: {"sleep": 3, "pieces": ["too late"]}) as server:
        _, _, answer = run(answerer(seeds_notebook, server.url, llm_timeout=0.5), question, hits)
    assert answer.notice == f"LLM server at {server.url} did not answer within 0.5 s; showing the extractive answer."
    extractive = seeds_notebook.answerer.invoke(AnswerRequest(question=question, hits=hits))
    assert not answer.refused and answer.citations == extractive.citations and answer.text.endswith(extractive.text)


def test_a_server_that_is_down_gives_one_line_and_no_traceback(seeds_notebook, tpu_hits, free_port):
    url = f"http://127.0.0.1:{free_port()}/v1"
    _, _, answer = run(answerer(seeds_notebook, url), TPU_QUESTION, tpu_hits)
    assert answer.notice.startswith(f"無法連線到 LLM 伺服器 {url}：") and "\n" not in answer.notice
    assert answer.backend == "extractive" and answer.citations


# ---------------------------------------------------------------- verification end to end


def test_a_simplified_answer_to_a_traditional_question_is_converted(seeds_notebook, tpu_hits):
    def reply(request):
        p = passages_in(request)
        n = next(n for n, t in p.items() if sentences_with(t, "TPU"))
        return {"pieces": chunks(simplified_chars(sentences_with(p[n], "TPU")[0]) + f"[{n}]")}

    with FakeOpenAIServer(reply) as server:
        _, _, answer = run(answerer(seeds_notebook, server.url), TPU_QUESTION, tpu_hits)
    assert detect_script(answer.text) == "zh-Hant" and answer.text.startswith(traditional_chars(answer.text[:10]))
    assert answer.backend == "openai" and answer.citations and answer.unsupported == []
    assert_quotes_verbatim(seeds_notebook, answer)


def test_wrong_citations_are_moved_and_invented_numbers_withheld(seeds_notebook, tpu_hits):
    state = {}

    def reply(request):
        p = passages_in(request)
        n = next(n for n, t in p.items() if sentences_with(t, "TPU"))
        state["n"] = n
        good = sentences_with(p[n], "TPU")[0]
        return {"pieces": chunks(f"{good} [{len(p) + 5}]TPU的訓練成本比GPU低87%。[{n}]")}

    with FakeOpenAIServer(reply) as server:
        pieces, _, answer = run(answerer(seeds_notebook, server.url), TPU_QUESTION, tpu_hits)
    assert "87%" not in answer.text and answer.unsupported == ["TPU的訓練成本比GPU低87%。"]
    assert re.findall(r"\[(\d+)\]", answer.text) == ["1"]  # [n+5] pointed nowhere: re-pointed, renumbered
    assert answer.citations[0].chunk_id == tpu_hits[state["n"] - 1].chunk_id
    assert "".join(pieces) == answer.text
    from ui.render import passages_html

    panel = passages_html(answer, 0, lang="zh-Hant")  # the UI's cited-passages panel flags the withheld claim
    assert "<del>⚠ TPU的訓練成本比GPU低87%。</del>" in panel and "文件不支持" in panel
    assert_quotes_verbatim(seeds_notebook, answer)


def test_nothing_verifiable_falls_back_to_the_extractive_answer_and_says_so(seeds_notebook, tpu_hits):
    with FakeOpenAIServer(
        lambda r: {"pieces": chunks("蘋果公司在2030年推出了量子晶片。[1] 它比所有GPU快一萬倍。[2]")}
    ) as server:
        _, _, answer = run(answerer(seeds_notebook, server.url), TPU_QUESTION, tpu_hits)
    assert answer.notice == "模型的回答無法對照文件查證；以下改為摘錄式回答。"
    assert len(answer.unsupported) == 2 and answer.backend == "extractive" and answer.citations


@pytest.mark.parametrize(
    ("question", "refusal", "notice"),
    [
        (TPU_QUESTION, ["文件中没有找到", "相关内容。"], "模型沒有找到答案；文件中的段落這樣說："),  # Simplified refusal, 繁 question
        ("how profitable is the DRAM business over a cycle?", ["The documents ", "do not say."], "The model found no answer; the passages say:"),
    ],
)  # fmt: skip
def test_a_model_refusal_that_the_passages_contradict_shows_them_with_a_notice(
    seeds_notebook, question, refusal, notice
):
    hits = seeds_notebook.search(question)
    extractive = seeds_notebook.answerer.invoke(AnswerRequest(question=question, hits=hits))
    assert not extractive.refused  # the gate found a sentence that answers
    with FakeOpenAIServer(lambda r: {"pieces": refusal}) as server:
        pieces, _, answer = run(answerer(seeds_notebook, server.url), question, hits)
    assert len(server.requests) == 1
    assert not answer.refused and answer.notice == notice and pieces[0] == notice + "\n"
    assert answer.text == notice + "\n" + extractive.text and "".join(pieces) == answer.text
    assert answer.citations == extractive.citations and answer.backend == "extractive"
    assert not any(r in answer.text for r in REFUSAL.values())


def test_off_topic_questions_are_refused_without_asking_the_model(seeds_notebook):
    for question in ["What is the capital of Australia?", "如何烤出好吃的酸種麵包?"]:
        # The passages ask answers from (Notebook.ask reads answer_hits(), not search's five: over the first five,
        # "capital" -> 資本 brings the gate to 0.079 against its cut of 0.078; over the eight, 0.053).
        hits = seeds_notebook.search(question, seeds_notebook.settings.answer_hits())
        with FakeOpenAIServer(lambda r: {"pieces": ["The Haute Route [1]."]}) as server:
            pieces, _, answer = run(answerer(seeds_notebook, server.url), question, hits)
        assert server.requests == []  # the extractive gate refused: the model is never asked
        script = detect_script(question)
        assert answer.refused and answer.text == REFUSAL[script] and pieces == [answer.text] and not answer.citations


# ---------------------------------------------------------------- multi-turn, notebook and CLI


def test_a_follow_up_is_rewritten_before_retrieval(seeds_notebook):
    standalone = "DRAM的毛利率在一個景氣循環裡如何?"

    def reply(request):
        if "standalone" in request["messages"][-1]["content"].lower():
            return {"pieces": [standalone[:5], standalone[5:]]}
        p = passages_in(request)
        n, text = next((n, t) for n, t in p.items() if sentences_with(t, "毛利率"))
        return {"pieces": chunks(sentences_with(text, "毛利率")[0] + f"[{n}]")}

    nb = copy.copy(seeds_notebook)  # shares the loaded models; only this copy's backend changes
    with FakeOpenAIServer(reply) as server:
        nb.use_backend("openai", llm_base_url=server.url, llm_model="fake-model")
        history = [("記憶體產業的景氣循環是怎樣的?", "DRAM 的景氣循環很明顯 [1]。")]
        answer = nb.ask("那它的毛利率呢?", history=history)
    assert answer.rewritten_query == standalone
    rewrite_prompt = server.requests[0]["messages"][-1]["content"]
    assert "記憶體產業的景氣循環是怎樣的?" in rewrite_prompt and "[1]" not in rewrite_prompt
    assert len(server.requests) == 2 and standalone in server.requests[1]["messages"][-1]["content"]
    assert answer.backend == "openai" and "毛利率" in answer.text and answer.as_dict()["rewritten_query"] == standalone
    assert seeds_notebook.settings.backend == "extractive"


def test_a_follow_up_in_shared_characters_is_answered_in_the_conversations_script(seeds_notebook):
    def reply(request):
        if "standalone" in request["messages"][-1]["content"].lower():
            return {"pieces": [TPU_QUESTION]}
        p = passages_in(request)
        n = next(n for n, t in p.items() if sentences_with(t, "TPU"))
        return {"pieces": chunks(sentences_with(p[n], "TPU")[0] + f"[{n}]")}  # the passage's own (Traditional) words

    nb = copy.copy(seeds_notebook)
    with FakeOpenAIServer(reply) as server:
        nb.use_backend("openai", llm_base_url=server.url, llm_model="fake-model")
        answer = nb.ask(TPU_QUESTION, history=[("谷歌的TPU是什么?", "TPU是谷歌的芯片 [1]。")])
    rewrite, answering = server.requests
    assert "简体中文" in rewrite["messages"][0]["content"] and "简体中文" in answering["messages"][0]["content"]
    assert answer.backend == "openai" and answer.script == "zh-Hans" == detect_script(answer.text)
    assert_quotes_verbatim(seeds_notebook, answer)  # the citations keep the document's Traditional words


def test_a_down_server_during_the_rewrite_is_reported_once(seeds_notebook, free_port):
    nb = copy.copy(seeds_notebook)
    url = f"http://127.0.0.1:{free_port()}/v1"
    nb.use_backend("openai", llm_base_url=url)
    events = list(nb.ask_events("那它的毛利率呢?", history=[{"role": "user", "content": "DRAM 景氣循環?"},
                                                            {"role": "assistant", "content": "很明顯。"}]))  # fmt: skip
    answer = events[-1].answer
    # The rules' rewrite (rag.followup) stands in for the LLM's: the fallback answers the follow-up, not 「那它的毛利率呢?」.
    assert "無法連線" in answer.notice and answer.rewritten_query == "DRAM 景氣循環的毛利率呢?"
    assert sum("無法連線" in e.text for e in events[:-1]) == 1


@pytest.mark.process
def test_rag_ask_streams_from_a_server_and_reports_json(seeds_notebook):
    def reply(request):
        p = passages_in(request)
        n, text = next((n, t) for n, t in p.items() if sentences_with(t, "gross profit margin"))
        return {"pieces": chunks(sentences_with(text, "gross profit margin")[0] + f" [{n}]")}

    with FakeOpenAIServer(reply) as server:
        out = subprocess.run(
            [sys.executable, "-m", "rag.cli", "ask", "how profitable is the DRAM business over a cycle?",
             "--backend", "openai", "--base-url", server.url, "--model", "fake-model", "--json"],
            capture_output=True, text=True, timeout=300, env=dict(os.environ, RAG_PATH=str(seeds_notebook.path)), check=False,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["backend"] == "openai" and answer["citations"] and answer["notice"] == ""
    assert server.requests[0]["model"] == "fake-model"


# ---------------------------------------------------------------- the local GGUF backend


def test_backends_lists_the_three_and_a_missing_llama_cpp_is_explained(seeds_notebook, tpu_hits):
    names = [b["name"] for b in backends(seeds_notebook.settings)]
    assert names == ["extractive", "openai", "llamacpp"]
    missing = seeds_notebook.path / "no-such-model.gguf"
    s = seeds_notebook.settings.model_copy(update={"backend": "llamacpp", "gguf_path": missing})
    g = GenerativeAnswerer(chat_model(s), seeds_notebook.answerer, s, "llamacpp", str(gguf_path(s)))
    _, _, answer = run(g, TPU_QUESTION, tpu_hits)
    # Without llama-cpp-python: "…is not installed (make llm)"; with it: "no GGUF model at …".
    assert answer.notice.startswith("本機模型無法使用：") and ("make llm" in answer.notice)
    assert answer.backend == "extractive" and answer.citations


@pytest.mark.slow
def test_a_real_local_gguf_model_answers_with_verified_citations(seeds_notebook):
    if not llama_cpp_installed() or not gguf_path(seeds_notebook.settings).exists():
        pytest.skip("needs llama-cpp-python and the GGUF model (make llm)")
    nb = copy.copy(seeds_notebook)
    nb.use_backend("llamacpp")
    answer = nb.ask("how profitable is the DRAM business over a cycle?")
    assert not answer.refused and answer.citations
    assert_quotes_verbatim(nb, answer)
    # Whatever the small model wrote, what is shown was verified, or it is the extractive answer.
    assert answer.backend == "llamacpp" or answer.notice
