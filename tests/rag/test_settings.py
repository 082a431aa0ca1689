"""Settings: the only reader of RAG_* variables; validated values, unknown names refused, every field described."""

from __future__ import annotations

import pytest

from rag.errors import NotebookError, SettingsError
from rag.settings import GROUPS, Settings, check_environment


def test_values_are_validated_whichever_way_they_come(monkeypatch):
    assert Settings(k="7").k == 7
    base = Settings()
    assert base.updated(k="7").k == 7 and base.k == 5  # a copy; the original is unchanged
    with pytest.raises(SettingsError, match="RAG_BACKEND"):
        base.updated(backend="nonsense")
    base.k = "3"  # validate_assignment
    assert base.k == 3
    monkeypatch.setenv("RAG_K", "abc")
    with pytest.raises(SettingsError) as err:
        Settings()
    assert str(err.value).startswith("setting RAG_K: ") and "valid integer" in str(err.value)
    assert "\n" not in str(err.value) and isinstance(err.value, NotebookError)


def test_unknown_names_are_refused(monkeypatch):
    with pytest.raises(SettingsError, match="unknown setting 'kk'.*'k'"):
        Settings(kk=3)
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings().updated(no_such_knob=1)
    monkeypatch.setenv("RAG_CHUNK_TOKEN", "128")
    with pytest.raises(SettingsError, match="RAG_CHUNK_TOKEN in the environment.*RAG_CHUNK_TOKENS"):
        Settings()
    check_environment({"RAG_UPDATE_SCREENSHOT": "1", "PATH": "/bin"})  # the browser test's switch is no setting


def test_the_environment_is_read_by_settings_and_an_override_wins(monkeypatch):
    monkeypatch.setenv("RAG_PORT", "8123")
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    s = Settings()
    assert (s.host, s.port) == ("0.0.0.0", 8123)
    assert Settings(port=9000).port == 9000
    assert s.updated(k=2).port == 8123


def test_every_setting_has_a_group_and_a_description():
    grouped = Settings().grouped()
    assert list(grouped) == list(GROUPS)
    names = [name for rows in grouped.values() for name, _, _ in rows]
    assert len(names) == len(Settings.model_fields) and "RAG_K" in names and "RAG_HOST" in names
    assert all(description for rows in grouped.values() for _, _, description in rows)
    assert "RAG_K" in [n for n, _, _ in grouped["retrieval"]]


def test_embedder_path_is_a_path_and_builds_nothing(tmp_path):
    s = Settings(cache_dir=tmp_path)
    assert s.embedder_path() == str(tmp_path / "models" / "multilingual-e5-small")
    assert list(tmp_path.iterdir()) == []
    assert Settings(embedder="org/model").embedder_path() == "org/model"
    assert Settings(embedder="org/model").hub_model() and not s.hub_model()
    assert not Settings(embedder=str(tmp_path)).hub_model()  # a folder here is not a hub id
