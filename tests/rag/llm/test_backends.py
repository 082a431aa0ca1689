"""rag.llm: one registry of answer backends, the one list the settings, the CLI and the UI take their names from."""

from __future__ import annotations

import pytest

from rag.errors import NotebookError, SettingsError
from rag.llm import BACKENDS, BackendUnavailable, backends, chat_model, endpoint
from rag.settings import Settings


def test_the_settings_backend_is_validated_against_the_registry(monkeypatch):
    assert [Settings(backend=name).backend for name in BACKENDS] == list(BACKENDS)
    with pytest.raises(
        SettingsError, match=r"^setting RAG_BACKEND: Input should be one of extractive, openai, llamacpp"
    ):
        Settings(backend="nonsense")
    monkeypatch.setitem(BACKENDS, "another", BACKENDS["openai"])  # a backend added to the registry is a valid setting
    assert Settings(backend="another").backend == "another"


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


def test_there_is_one_backend_unavailable_and_it_is_a_user_error():
    import ui.session

    assert ui.session.BackendUnavailable is BackendUnavailable and issubclass(BackendUnavailable, NotebookError)
