"""Text-only components: the chat box and the status line show every message (question, answer, quoted passage,
model output, file name, document title) as text, never as HTML."""

from __future__ import annotations

import html
import re
from abc import ABCMeta
from typing import Any

import gradio as gr
from gradio.component_meta import ComponentMeta
from gradio.components.chatbot import ChatbotDataMessages, TextMessage

_ENTITY = re.compile(r"&(amp|lt|gt);")
_MARKDOWN_PUNCTUATION = re.compile(r"([!-%'-/:;=?@\[-`{-~])")  # ASCII punctuation but & < > (entities below)
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


def escape_text(text: str) -> str:
    """Text the page inserts as HTML showing exactly these characters: & < > become entities, nothing else changes."""
    return html.escape(text, quote=False)


def unescape_text(text: str) -> str:
    """The exact inverse of escape_text (one pass, so a literal "&amp;lt;" in a message survives the round trip)."""
    return _ENTITY.sub(lambda m: _UNESCAPED[m.group(1)], text)


def markdown_text(text: str) -> str:
    """Markdown that shows exactly this text: punctuation backslash-escaped (no links, images, emphasis, autolinks),
    & < > as entities (no HTML); line breaks, including Markdown's "  \n", stay line breaks."""
    return escape_text(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text))


class _NoStubMeta(ComponentMeta):
    """Gradio's component metaclass minus its side effect: it writes a .pyi next to every component's module.
    TextChatbot adds no events and no __init__, the only things ComponentMeta.__new__ handles besides that file."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]):
        return ABCMeta.__new__(mcs, name, bases, attrs)


class TextChatbot(gr.Chatbot, metaclass=_NoStubMeta):
    """gr.Chatbot whose messages are plain text (build it with text_chatbot()).

    Gradio's chat renders each message as Markdown, then HTML, and its sanitizer keeps <img src=http…>, <form>,
    <input> and inline styles: a quoted document sentence could load a tracking pixel or cover the page with a link.
    So the text is HTML-escaped on its way to the page and unescaped on its way back (handlers see the real text).
    A class, not a patched instance: Gradio rebuilds a session's component from its class on gr.update (relabel).
    """

    # The page draws it with Chatbot's own code: Chatbot's block name (Gradio's template mark) and class id.
    is_template = True

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Chatbot.get_component_class_id()

    def postprocess(self, value: Any) -> ChatbotDataMessages:
        data = super().postprocess(value)
        for message in data.root:
            for part in message.content:
                if isinstance(part, TextMessage):
                    part.text = escape_text(part.text)
        return data

    def preprocess(self, payload: Any) -> list[Any]:
        messages = super().preprocess(payload)
        for message in messages:
            for part in message.get("content", []):
                if isinstance(part, dict) and part.get("type") == "text":
                    part["text"] = unescape_text(part["text"])
        return messages


def text_chatbot(**options: Any) -> TextChatbot:
    """The chat box with Markdown and LaTeX off (the text is shown as written; line breaks come from CSS
    white-space: pre-wrap in ui/static/notebook.css). The page's own markup, the [n] citation links, is added in
    the browser from the text (ui/static/citations.js)."""
    return TextChatbot(render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False, **options)


class TextMarkdown(gr.Markdown, metaclass=_NoStubMeta):
    """gr.Markdown for status text made of file names and document titles: shown as written (markdown_text)."""

    is_template = True  # drawn by Markdown's own page code

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Markdown.get_component_class_id()

    def postprocess(self, value: str | None) -> str | None:
        return None if value is None else super().postprocess(markdown_text(value))
