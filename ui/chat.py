"""The chat box: every message (question, answer, quoted passage, model output) is shown as text, never as HTML."""

from __future__ import annotations

import html
import re
from typing import Any

import gradio as gr
from gradio.components.chatbot import ChatbotDataMessages, TextMessage

_ENTITY = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


def escape_text(text: str) -> str:
    """Text the page inserts as HTML showing exactly these characters: & < > become entities, nothing else changes."""
    return html.escape(text, quote=False)


def unescape_text(text: str) -> str:
    """The exact inverse of escape_text (one pass, so a literal "&amp;lt;" in a message survives the round trip)."""
    return _ENTITY.sub(lambda m: _UNESCAPED[m.group(1)], text)


def text_chatbot(**options: Any) -> gr.Chatbot:
    """A gr.Chatbot whose messages are plain text.

    Gradio's chat renders each message as Markdown, then HTML, and its sanitizer keeps <img src=http…>, <form>,
    <input> and inline styles: a quoted document sentence could load a tracking pixel or cover the page with a link.
    So Markdown (and LaTeX) is off, the text is HTML-escaped on its way to the page and unescaped on its way back
    (handlers see the real text), and line breaks come from CSS (white-space: pre-wrap, ui/static/notebook.css).
    The page's own markup, the [n] citation links, is added in the browser from the text (ui/static/citations.js).
    The conversions are set on this one instance: a Chatbot subclass would be a new component to Gradio's page.
    """
    value = options.pop("value", None)  # Gradio converts an initial value in __init__, before the escaping is set
    chatbot = gr.Chatbot(render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, **options)
    to_page, from_page = chatbot.postprocess, chatbot.preprocess

    def postprocess(value: Any) -> ChatbotDataMessages:
        data = to_page(value)
        for message in data.root:
            for part in message.content:
                if isinstance(part, TextMessage):
                    part.text = escape_text(part.text)
        return data

    def preprocess(payload: Any) -> list[Any]:
        messages = from_page(payload)
        for message in messages:
            for part in message.get("content", []):
                if isinstance(part, dict) and part.get("type") == "text":
                    part["text"] = unescape_text(part["text"])
        return messages

    chatbot.postprocess = postprocess  # type: ignore[method-assign]
    chatbot.preprocess = preprocess  # type: ignore[method-assign]
    if value is not None:
        chatbot.value = postprocess(value).model_dump()
    return chatbot
