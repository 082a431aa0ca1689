"""The chat box: every message (question, answer, quoted passage, model output) is shown as text, never as HTML."""

from __future__ import annotations

import html
import re
from typing import Any

import gradio as gr
from gradio.components.chatbot import TextMessage

_ENTITY = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


def escape_text(text: str) -> str:
    """Text the page inserts as HTML showing exactly these characters: & < > become entities, nothing else changes."""
    return html.escape(text, quote=False)


def unescape_text(text: str) -> str:
    """The exact inverse of escape_text (one pass, so a literal "&amp;lt;" in a message survives the round trip)."""
    return _ENTITY.sub(lambda m: _UNESCAPED[m.group(1)], text)

from gradio.events import Dependency

class TextChatbot(gr.Chatbot):
    """gr.Chatbot whose messages are plain text.

    Gradio's chat renders each message as Markdown and then HTML, and its sanitizer keeps <img src=http…>, <form>,
    <input> and inline styles: a quoted document sentence could load a tracking pixel or cover the page with a link.
    So Markdown is off, the text is HTML-escaped on its way to the page and unescaped on its way back (handlers see
    the real text), and line breaks come from CSS (white-space: pre-wrap, ui/static/notebook.css). The page's own
    markup, the [n] citation links, is added in the browser from the text (ui/static/citations.js).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False)
        super().__init__(*args, **kwargs)

    def _postprocess_content(self, chat_message: Any) -> Any:
        content = super()._postprocess_content(chat_message)
        if isinstance(content, TextMessage):
            content.text = escape_text(content.text)
        return content

    def preprocess(self, payload: Any) -> list[Any]:
        messages = super().preprocess(payload)
        for message in messages:
            for part in message.get("content", []):
                if isinstance(part, dict) and part.get("type") == "text":
                    part["text"] = unescape_text(part["text"])
        return messages
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component