"""The Gradio app starts on loopback and answers through gradio_client."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def app_url(seeds_notebook, free_port):
    from ui.app import build_app, start

    port = free_port()
    server = start(build_app(seeds_notebook), "127.0.0.1", port)  # as `rag serve` serves it, behind ui.guard
    yield f"http://127.0.0.1:{port}/"
    server.close()


def test_chat_answers_with_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    reply, passages = client.predict("TPU能否取代GPU?", api_name="/chat")
    assert "[1]" in reply and "TPU" in reply
    assert "cite-1" in passages and "<mark>" in passages


def test_chat_refuses_off_topic(app_url):
    from gradio_client import Client

    reply, passages = Client(app_url, verbose=False).predict("What is the capital of Australia?", api_name="/chat")
    assert reply == "The documents do not say."
    assert "<mark>" not in passages
