"""rag.llm: one registry of answer backends, the one list the settings, the CLI and the UI take their names from."""

from __future__ import annotations

import typing

import pytest

from rag.llm import BACKENDS, BackendUnavailable, backends, chat_model, endpoint
from rag.settings import Settings


def test_the_settings_backend_values_are_the_registry_names():
    # Settings.backend keeps its Literal (validated from RAG_BACKEND); it must list exactly the registry's names.
    assert typing.get_args(Settings.model_fields["backend"].annotation) == tuple(BACKENDS)


def test_the_cli_offers_the_registry_names():
    from rag.cli import build_parser

    ask = build_parser()._subparsers._group_actions[0].choices["ask"]
    backend = next(a for a in ask._actions if a.dest == "backend")
    assert list(backend.choices) == list(BACKENDS)


def test_the_picker_lists_every_backend_with_its_label_and_why_it_cannot_run(tmp_path):
    settings = Settings(gguf_path=tmp_path / "no-such-model.gguf")
    listed = backends(settings)
    assert [b["name"] for b in listed] == list(BACKENDS) == ["extractive", "openai", "llamacpp"]
    assert all(b["label"] == BACKENDS[b["name"]].label for b in listed)
    assert listed[0]["available"] is True
    local = listed[2]
    assert local["available"] is False and "make llm" in local["detail"]


def test_chat_models_are_built_for_generative_backends_only(tmp_path):
    settings = Settings(gguf_path=tmp_path / "model.gguf", llm_base_url="http://127.0.0.1:9/v1")
    assert BACKENDS["extractive"].chat_model is None
    with pytest.raises(ValueError, match="openai, llamacpp"):
        chat_model(settings, "extractive")
    assert endpoint(settings, "openai") == "http://127.0.0.1:9/v1"
    assert endpoint(settings, "llamacpp") == str(tmp_path / "model.gguf")
    local = chat_model(settings, "llamacpp")  # built without loading anything: the file is read on first use
    assert local.model_path == str(tmp_path / "model.gguf")
    with pytest.raises(BackendUnavailable):
        local.invoke("hello")


def test_the_ui_raises_the_one_backend_unavailable():
    import ui.session

    assert ui.session.BackendUnavailable is BackendUnavailable
