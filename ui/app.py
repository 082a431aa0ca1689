"""Gradio chat: streamed cited answers beside the cited passages, and a button that re-indexes seeds/."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Iterator

from rag.offline import go_offline

go_offline()

import gradio as gr  # noqa: E402

from rag import Notebook  # noqa: E402
from rag.answer import Answer  # noqa: E402

EXAMPLES = ["TPU能否取代GPU?", "亞馬遜機房裡最多的CPU是哪種?", "how profitable is the DRAM business over a cycle?"]
# System fonts only: the default theme pulls web fonts from a CDN, which an offline laptop cannot reach.
THEME = gr.themes.Soft(font=["system-ui", "Noto Sans CJK TC", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.passage {border-left: 3px solid #6366f1; padding: 4px 10px; margin: 8px 0;}
.passage mark {background: #fde68a;}
.passage .meta {color: #6b7280; font-size: 0.85em;}
"""


def passages_html(answer: Answer | None) -> str:
    """The cited passages: number, title, file and the passage text with the quoted sentences marked."""
    if answer is None or not answer.citations:
        return "<p class='meta'>No passages cited.</p>" if answer is not None else ""
    by_n: dict[int, list] = {}
    for c in answer.citations:
        by_n.setdefault(c.n, []).append(c)
    hits = {h.chunk_id: h for h in answer.hits}
    parts = []
    for n, cites in sorted(by_n.items()):
        first = cites[0]
        text = hits[first.chunk_id].text if first.chunk_id in hits else first.quote
        body = html.escape(text)
        for c in cites:
            quote = html.escape(c.quote)
            body = body.replace(quote, f"<mark>{quote}</mark>", 1)
        where = html.escape(first.source + (f" · {first.section}" if first.section else ""))
        parts.append(
            f"<div class='passage' id='cite-{n}'><b>[{n}] {html.escape(first.title)}</b>"
            f"<div class='meta'>{where}</div><div>{body}</div></div>"
        )
    return "".join(parts)


def build_app(notebook: Notebook) -> gr.Blocks:
    """The chat page for one notebook."""

    def respond(message: str, history: list) -> Iterator[tuple[str, str]]:
        text = ""
        for event in notebook.ask_events(message):
            if isinstance(event, str):
                text += event
                yield text, ""
            else:
                yield event.text, passages_html(event)

    def reindex() -> str:
        report = notebook.index(notebook.settings.seeds, progress=False)
        return report.summary().replace("\n", "  \n")

    with gr.Blocks(title="Notebook") as app:
        gr.Markdown("## 📓 Notebook — answers from your documents, with citations")
        passages = gr.HTML(render=False, elem_id="passages")
        with gr.Row():
            with gr.Column(scale=3):
                gr.ChatInterface(
                    respond,
                    chatbot=gr.Chatbot(height=520, label="Chat"),
                    examples=EXAMPLES,
                    additional_outputs=[passages],
                    api_name="chat",
                    fill_height=False,
                )
            with gr.Column(scale=2):
                gr.Markdown("### Cited passages")
                passages.render()
                reindex_button = gr.Button("Re-index seeds/", variant="secondary")
                reindex_status = gr.Markdown()
        reindex_button.click(reindex, outputs=reindex_status, api_name="reindex")
    return app


def serve(path: str | Path = ".rag", host: str = "127.0.0.1", port: int = 7860, index_seeds: bool = False) -> None:
    """Open the chat on host:port (loopback unless asked otherwise)."""
    notebook = Notebook(path=path)
    if index_seeds:
        notebook.index(notebook.settings.seeds)
    notebook.embedder  # load the model before the first question, not during it
    app = build_app(notebook)
    print(f"Notebook chat on http://{host}:{port}", flush=True)
    app.queue().launch(server_name=host, server_port=port, theme=THEME, css=CSS, share=False, footer_links=[])
