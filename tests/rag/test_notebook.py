"""Search and ask on the real seeds: the owner's TPU question, citations that quote the chunk, refusals."""

from __future__ import annotations

from rag.text import detect_script


def test_tpu_question_finds_the_tpu_vs_gpu_post(seeds_notebook):
    hits = seeds_notebook.search("TPU能否取代GPU?", k=5)
    top3 = hits[:3]
    assert any(h.source.endswith("001_a39377fc7e6609dd.txt") and "TPU" in h.text and "GPU" in h.text for h in top3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.chunk_id and h.title and h.text for h in hits)


def test_ask_cites_quotes_that_are_in_the_cited_chunks(seeds_notebook):
    answer = seeds_notebook.ask("TPU能否取代GPU?")
    assert not answer.refused
    assert answer.citations
    chunks = {c.chunk_id: c.text for c in seeds_notebook.chunks([c.chunk_id for c in answer.citations])}
    for c in answer.citations:
        assert c.quote in chunks[c.chunk_id]
        assert f"[{c.n}]" in answer.text
    assert "TPU" in answer.text


def test_answer_is_written_in_the_questions_script(seeds_notebook):
    simplified = seeds_notebook.ask("DeepSeek这种小公司,跟美国顶级AI实验室比资源差了多少?")
    assert not simplified.refused
    assert detect_script(simplified.text) == "zh-Hans"
    traditional = seeds_notebook.ask("KKR有人發明了什麼新詞來調侃大家吹噓要建多少GW?")
    assert not traditional.refused
    assert "Bragawatt" in traditional.text
    assert detect_script(traditional.text) == "zh-Hant"


def test_off_topic_questions_are_refused_without_citations(seeds_notebook):
    for question in ["如何烤出好吃的酸種麵包?", "周杰伦的新专辑叫什么?", "Apple 的 M4 晶片有幾個核心?"]:
        answer = seeds_notebook.ask(question)
        assert answer.refused and answer.status == "not_found", (question, answer.text)
        assert answer.citations == []
    assert seeds_notebook.ask("如何烤出好吃的酸種麵包?").text == "文件中沒有找到相關內容。"


def test_an_off_topic_english_question_over_chinese_documents_is_refused_naming_the_words(seeds_notebook):
    # Over the mixed seeds, the closest sentence is Chinese (最好的投資想法: "best"); hiking, trail and Alps are
    # written nowhere, in either language.
    answer = seeds_notebook.ask("What is the best hiking trail in the Alps?")
    assert answer.refused and not answer.citations
    assert answer.text == "The documents do not mention hiking, trail, Alps."
    assert seeds_notebook.ask("How do I bake sourdough bread?").refused
    # Two of three words unknown, the third common in the notes (訓練: "train"): off the subject too.
    puppy = seeds_notebook.ask("How do I train a puppy to sit?")
    assert puppy.refused and puppy.text == "The documents do not mention puppy, sit.", puppy.text


def test_the_english_tpu_question_leads_with_the_chinese_posts_conclusion(seeds_notebook):
    answer = seeds_notebook.ask("Can TPUs replace GPUs for training?")
    assert not answer.refused, answer.text
    assert answer.text.startswith("(Chinese) ")  # the document's own words, labelled
    first = answer.citations[0]
    assert first.source.endswith("001_a39377fc7e6609dd.txt")
    assert "Gemini" in first.quote or "TPU可以訓練" in first.quote, first.quote  # TPUs do train frontier models


def test_the_tpu_question_asked_with_a_why_leads_with_the_conclusion_in_either_script(seeds_notebook):
    # Simplified 什么 read as 什幺 kept a word no passage writes in the question, and the gate refused (0.08); and a
    # sentence holding the first clause (「…大家爭論不休的「究竟TPU能否取代GPU」」) asks the question back, so it never leads.
    for question in ["TPU能否取代GPU？为什么？", "TPU能否取代GPU？為什麼？"]:
        answer = seeds_notebook.ask(question)
        assert not answer.refused, (question, answer.text)
        first = answer.citations[0]
        assert first.source.endswith("001_a39377fc7e6609dd.txt"), (question, first.quote)
        assert "Gemini" in first.quote or "TPU可以訓練" in first.quote, (question, first.quote)
        assert "究竟TPU能否取代GPU" not in first.quote


def test_ask_stream_yields_the_same_text_in_pieces(seeds_notebook):
    pieces = list(seeds_notebook.ask_stream("TPU能否取代GPU?"))
    assert len(pieces) > 1
    assert "".join(pieces) == seeds_notebook.ask("TPU能否取代GPU?").text


def test_a_when_question_answered_by_no_time_shows_the_closest_passages_and_says_so(seeds_notebook):
    # The passages talk about 金管會 regulating agents but never say when: quoted as an answer they would sound like
    # one; hidden behind a bare refusal, the user could not judge. A partial answer says what is missing, then quotes.
    answer = seeds_notebook.ask("金管會對AI Agent的規範什麼時候開始上路?")
    assert answer.refused and answer.status == "partial", answer.text
    assert answer.text.startswith(("文件中沒有提到具體時間；最接近的內容：", "文件沒有直接說明")), answer.text
    assert answer.citations and "金管會" in answer.citations[0].quote, answer.text
    dated = seeds_notebook.ask("財報狗說輝達下一代的Blockwhale架構大概什麼時候會出?")
    assert not dated.refused and "明年" in dated.text


def test_views_share_loaded_parts_and_build_only_what_their_settings_change(seeds_notebook):
    view = seeds_notebook.with_settings(k=2)
    assert view.embedder is seeds_notebook.embedder and view.chunk_index is seeds_notebook.chunk_index
    assert view.answerer is seeds_notebook.answerer  # search is handed k: the answerer never reads it
    assert len(view.search("TPU能否取代GPU?")) == 2 and seeds_notebook.settings.k == 5
    assert seeds_notebook.with_settings(k=seeds_notebook.settings.k) is seeds_notebook
    strict = seeds_notebook.with_settings(answer_gate=0.999)
    assert strict.answerer is not seeds_notebook.answerer
    assert strict.answerer is seeds_notebook.with_settings(answer_gate=0.999).answerer  # built once, shared
    assert strict.ask("TPU能否取代GPU?").refused and not seeds_notebook.ask("TPU能否取代GPU?").refused


def test_a_question_in_shared_characters_takes_the_conversations_script_else_the_chosen_one(seeds_notebook):
    question = "TPU能否取代GPU?"  # every character is written the same way in both scripts
    assert detect_script(question, "zh-Hans") == "zh-Hans" and detect_script(question, "zh-Hant") == "zh-Hant"
    simplified_turn = [("DeepSeek这种小公司,跟美国顶级AI实验室比资源差了多少?", "差了很多 [1]。")]
    after_simplified = seeds_notebook.ask(question, history=simplified_turn)
    assert not after_simplified.refused and after_simplified.script == "zh-Hans" == detect_script(after_simplified.text)
    # The UI's history: role/content messages; the latest question whose characters tell decides.
    traditional_turn = [
        {"role": "user", "content": "KKR有人發明了什麼新詞?"},
        {"role": "assistant", "content": "Bragawatt [1]。"},
    ]
    after_traditional = seeds_notebook.with_settings(default_script="zh-Hans").ask(question, history=traditional_turn)
    assert after_traditional.script == "zh-Hant" == detect_script(after_traditional.text)
    # No conversation: the user's chosen script (settings.default_script).
    alone = seeds_notebook.ask(question)
    assert alone.script == "zh-Hant" == detect_script(alone.text)
    chosen = seeds_notebook.with_settings(default_script="zh-Hans").ask(question)
    assert chosen.script == "zh-Hans" == detect_script(chosen.text)
    assert [c.quote for c in chosen.citations] == [
        c.quote for c in alone.citations
    ]  # the same sentences, shown in each script


def test_sources_are_read_from_each_documents_first_chunk_as_a_read_of_every_chunk_would_list_them(
    seeds_notebook, monkeypatch
):
    expected = []
    for source, chunks in sorted(seeds_notebook.chunk_index.metadata_by_source().items()):
        first = min(chunks.values(), key=lambda m: m.get("ordinal", 0))
        title = first.get("doc_title") or first.get("title", "")
        expected.append(
            {
                "source": source,
                "name": first.get("name", source),
                "title": title,
                "chunks": len(chunks),
                "date": first.get("date"),
            }
        )
    store = seeds_notebook.chunk_index.store
    listings = []
    real = type(store)._get_all
    monkeypatch.setattr(
        type(store), "_get_all", lambda self, include, **where: listings.append(where) or real(self, include, **where)
    )
    assert seeds_notebook.sources() == expected and len(expected) == 5
    assert listings and all(where for where in listings)  # never a listing of every chunk
