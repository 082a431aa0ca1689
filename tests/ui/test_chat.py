"""The chat box keeps messages as text: escaped for the page, the same text back in the handlers."""

from __future__ import annotations

from ui.chat import escape_text, text_chatbot, unescape_text

PAYLOAD = 'lamp <img src="http://198.51.100.7/pixel.png"> & <a style="position:fixed">log in</a> &amp;lt; [1]\nnext'


def test_escape_round_trip_is_exact():
    escaped = escape_text(PAYLOAD)
    assert "<" not in escaped and ">" not in escaped
    assert unescape_text(escaped) == PAYLOAD
    assert escape_text("AT&T [1]") == "AT&amp;T [1]"


def test_chatbot_sends_text_to_the_page_and_hands_the_same_text_back():
    chatbot = text_chatbot(render=False)
    history = [{"role": "user", "content": "why?"}, {"role": "assistant", "content": PAYLOAD}]
    to_page = chatbot.postprocess(history)
    sent = to_page.root[1].content[0].text
    assert "<img" not in sent and "&lt;img" in sent and "\n" in sent
    back = chatbot.preprocess(to_page)
    assert [m["content"][0]["text"] for m in back] == ["why?", PAYLOAD]
    config = chatbot.get_config()
    assert config["render_markdown"] is False and config["latex_delimiters"] == []


def test_a_relabelled_chatbot_still_escapes():
    """Gradio rebuilds a session's component from its class and constructor arguments on gr.update (relabel)."""
    chatbot = text_chatbot(label="Chat", render=False)
    rebuilt = type(chatbot)(**{**chatbot.constructor_args, "label": "對話", "render": False})
    sent = rebuilt.postprocess([{"role": "assistant", "content": PAYLOAD}]).root[0].content[0].text
    assert sent == escape_text(PAYLOAD)
    assert rebuilt.get_config()["name"] == "chatbot"


def test_status_text_shows_names_and_titles_as_written():
    from ui.chat import TextMarkdown, markdown_text

    title = '✓ Removed Notice <img src="http://198.51.100.7/t.png"> [log in](http://198.51.100.7) **now** AT&T'
    shown = markdown_text(title + "  \nnext line")
    assert "<img" not in shown and "](" not in shown and "**" not in shown and "&amp;T" in shown
    assert "  \nnext line" in shown  # the status line's own line breaks stay
    assert TextMarkdown(render=False).postprocess(title) == markdown_text(title)
