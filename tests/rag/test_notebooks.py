"""Several notebooks under one data folder, their chats and notes, and exports, over real notebooks (Chroma, e5)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from rag import Notebook, list_notebooks
from rag.chats import Chats, Message
from rag.cli import main
from rag.errors import NotebookError
from rag.export import chat_markdown, export_notebook, import_notebook, notebook_markdown, notes_markdown
from rag.notebooks import DEFAULT_NAME, Notebooks
from rag.notes import Notes

APPLES = "# Apples\n\nApples grow on trees in orchards. Farmers pick apples in autumn and press them into cider.\n"
CHIPS = "# 台積電的製程\n\n台積電在新竹生產晶片，三奈米製程領先全球。台積電的先進封裝產能供不應求。\n"


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    """A data folder with two notebooks, Fruit (apples.md) and Chips (chips.md), sharing one loaded embedder."""
    root = tmp_path_factory.mktemp("shelf")
    docs = root / "docs"
    docs.mkdir()
    (docs / "apples.md").write_text(APPLES, encoding="utf-8")
    (docs / "chips.md").write_text(CHIPS, encoding="utf-8")
    fruit = Notebook.open("Fruit", path=root / ".rag", home=root)
    fruit.index(docs / "apples.md", progress=False)
    chips = Notebook.open(
        "Chips", path=root / ".rag", home=root, embedder=fruit.embedder, dense_embedder=fruit.dense_embedder
    )
    chips.index(docs / "chips.md", progress=False)
    return root, fruit, chips


def test_each_notebook_has_its_own_folder_sources_and_answers(shelf):
    root, fruit, chips = shelf
    assert [s["source"] for s in fruit.sources()] == ["docs/apples.md"]
    assert [s["source"] for s in chips.sources()] == ["docs/chips.md"]
    assert fruit.path != chips.path and fruit.path.parent == chips.path.parent == root / ".rag" / "notebooks"
    assert fruit.info.id != chips.info.id
    # Each its own Chroma collection, named from its id: on a shared Chroma server too, they never meet.
    assert fruit.info.id in fruit.chunk_index.store.name and chips.info.id in chips.chunk_index.store.name
    assert not chips.ask("What do farmers press apples into?").citations  # not in this notebook
    answer = fruit.ask("What do farmers press apples into?")
    assert not answer.refused and "cider" in answer.text
    names = [i.name for i in list_notebooks(root / ".rag")]
    assert names == ["Chips", "Fruit"]  # the data folder itself holds no index: not listed
    # The same notebook again, by name (any case) or through the setting: the same folder and documents.
    again = Notebook(
        path=root / ".rag", home=root, notebook="fruit", embedder=fruit.embedder, dense_embedder=fruit.dense_embedder
    )
    assert again.path == fruit.path and [s["source"] for s in again.sources()] == ["docs/apples.md"]


def test_shelf_creates_renames_refuses_and_deletes(tmp_path):
    shelf = Notebooks(tmp_path / ".rag")
    assert shelf.list() == []
    a = shelf.create("  My   topic ")
    assert a.name == "My topic" and a.folder.parent == tmp_path / ".rag" / "notebooks"
    with pytest.raises(NotebookError, match="already exists"):
        shelf.create("my topic")
    with pytest.raises(NotebookError, match="needs a name"):
        shelf.create("  ")
    b = shelf.create("第二個筆記本")
    assert shelf.rename("My topic", "Renamed").id == a.id
    assert shelf.find("renamed").folder == a.folder and shelf.find(a.id).name == "Renamed"
    with pytest.raises(NotebookError, match="already exists"):
        shelf.rename("Renamed", "第二個筆記本")
    with pytest.raises(NotebookError, match="no notebook named 'nope'.*'Renamed'"):
        shelf.get("nope")
    shelf.delete_folder(b.id)
    assert [i.name for i in shelf.list()] == ["Renamed"] and not b.folder.exists()
    # A notebook made again under a deleted one's name gets a folder of its own (Chroma keeps clients by folder).
    assert shelf.create("第二個筆記本").folder != b.folder


def test_a_data_folder_from_before_notebooks_is_one_of_them(tmp_path):
    old = Notebook(path=tmp_path / ".rag", home=tmp_path)  # as every notebook was made before: the folder itself
    assert old.info.name == DEFAULT_NAME
    shelf = Notebooks(tmp_path / ".rag")
    assert [i.folder for i in shelf.list()] == [tmp_path / ".rag"]
    shelf.create("New")
    assert [i.name for i in shelf.list()] == [DEFAULT_NAME, "New"]
    with pytest.raises(NotebookError, match="itself"):
        shelf.delete_folder(DEFAULT_NAME)


def test_cli_notebook_option_and_notebooks_command(shelf, tmp_path, capsys):
    root, _fruit, _ = shelf
    data = str(root / ".rag")
    assert main(["--path", data, "notebooks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["notebooks"]
    assert [n["name"] for n in listed] == ["Chips", "Fruit"]
    assert main(["--path", data, "--notebook", "Nothing", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rag: no notebook named 'Nothing'") and err.count("\n") == 1
    assert main(["--path", data, "notebooks", "new", "Empty one"]) == 0
    assert main(["status", "--path", data, "--notebook", "Empty one", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chunks"] == 0  # a new notebook starts empty
    assert main(["--path", data, "notebooks", "delete", "Empty one"]) == 0
    assert "Empty one" not in [i.name for i in Notebooks(data).list()]


def test_chats_are_saved_listed_restored_and_deleted(shelf):
    _, fruit, _ = shelf
    chats = Chats(fruit.path)
    answer = fruit.ask("What do farmers press apples into?")
    first = chats.save(
        None,
        [Message("user", "What do farmers press apples into?"), Message("assistant", answer.text, answer, answer.hits)],
    )
    second = chats.save(None, [Message("user", "Where do apples grow?")])
    assert [c.id for c in chats.list()] == [second, first]
    back = Chats(fruit.path).messages(first)  # another process would read the same
    assert [m.role for m in back] == ["user", "assistant"]
    assert back[1].answer.citations == answer.citations and back[1].hits == answer.hits
    assert chats.get(first).title == "What do farmers press apples into?"
    assert chats.delete(second) and not chats.delete(second)
    assert [c.id for c in chats.list()] == [first] and chats.messages(second) == []


def test_notes_from_answers_and_by_hand_searched_edited_and_added_as_a_source(shelf):
    _, _, chips = shelf
    notes = Notes(chips.path)
    answer = chips.ask("台積電在哪裡生產晶片?")
    assert not answer.refused and answer.citations
    saved = notes.add(answer.text, citations=answer.citations)
    own = notes.add("Packaging capacity is the bottleneck to watch.", title="My thought")
    assert [n.id for n in notes.list()] == [own.id, saved.id]
    assert [n.id for n in notes.search("台积电")] == [saved.id]  # a Simplified search finds the Traditional note
    assert [n.id for n in notes.search("BOTTLENECK watch")] == [own.id]
    assert (
        notes.edit(own.id, "Advanced packaging capacity is the bottleneck.").title
        == "Advanced packaging capacity is the bottleneck."
    )
    assert notes.search("packaging")[0].citations == [] and notes.get(saved.id).citations == answer.citations
    chips.index(notes.write_source(notes.get(own.id)), progress=False)
    titles = {s["title"] for s in chips.sources()}
    assert "Advanced packaging capacity is the bottleneck." in titles
    hits = chips.search("advanced packaging bottleneck", k=1)
    assert hits[0].source.endswith(f"{own.id}.md")
    chips.remove(hits[0].source)
    assert notes.delete(own.id) and [n.id for n in notes.list()] == [saved.id]


def _check_citations(markdown: str) -> list[str]:
    """Every [n] in the text has its numbered line under Citations; the quotes listed, in order."""
    body, _, cited = markdown.partition("## Citations")
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = re.findall(r"^\[(\d+)\] “(.+?)” — ", cited, flags=re.MULTILINE)
    assert numbers and numbers == {int(n) for n, _ in listed}, (numbers, listed)
    assert [int(n) for n, _ in listed] == list(range(1, len(listed) + 1))
    assert "## Sources" in cited
    return [quote for _, quote in listed]


def test_markdown_exports_number_citations_across_the_export(shelf):
    _, fruit, chips = shelf
    one = fruit.ask("What do farmers press apples into?")
    two = fruit.ask("Where do apples grow?")
    messages = [
        Message("user", "What do farmers press apples into?"), Message("assistant", one.text, one, one.hits),
        Message("user", "Where do apples grow?"), Message("assistant", two.text, two, two.hits),
    ]  # fmt: skip
    text = chat_markdown("Apples", messages)
    quotes = _check_citations(text)
    assert all(" ".join(q.split()) in " ".join(APPLES.split()) for q in quotes)
    assert "**Q:** Where do apples grow?" in text
    # The notes export reads the notebook's notes: one answer saved here, so the test stands alone (run by itself
    # or on another xdist worker it had no notes, and nothing to check).
    saved = chips.ask("台積電在哪裡生產晶片?")
    Notes(chips.path).add(saved.text, "", saved.citations)
    notes = Notes(chips.path).list()
    _check_citations(notes_markdown("Chips", notes))
    whole = notebook_markdown(chips)
    assert whole.startswith("# Chips") and "台積電的製程 — docs/chips.md" in whole
    _check_citations(whole)


def test_a_notebook_file_brings_sources_notes_and_chats_into_a_new_notebook(shelf, tmp_path):
    root, fruit, chips = shelf
    answer = chips.ask("台積電在哪裡生產晶片?")
    Chats(chips.path).save(
        None, [Message("user", "台積電在哪裡生產晶片?"), Message("assistant", answer.text, answer, answer.hits)]
    )
    exported = export_notebook(chips, tmp_path / "chips.notebook.zip")
    with zipfile.ZipFile(exported) as archive:
        assert "sources/docs/chips.md" in archive.namelist()
    settings = fruit.settings.updated(path=root / ".rag", home=root)
    imported = import_notebook(exported, settings)
    assert imported.name == "Chips (2)" and imported.path != chips.path
    assert [s["title"] for s in imported.sources()] == ["台積電的製程"]
    assert len(Notes(imported.path).list()) == len(Notes(chips.path).list())
    restored = Chats(imported.path)
    chat = restored.messages(restored.list()[0].id)
    for cite in chat[1].answer.citations:  # the citations point at the imported copy, quotes in it
        assert cite.quote in imported.source_file(cite.source).read_text(encoding="utf-8")
        assert imported.source_file(cite.source).is_relative_to(imported.path)
    assert not imported.ask("台積電在哪裡生產晶片?").refused
    with pytest.raises(NotebookError, match="not a notebook file"):
        bad = tmp_path / "bad.zip"
        bad.write_bytes(b"PK not really")
        import_notebook(bad, settings)
    imported.delete()
    assert not imported.path.exists() and "Chips (2)" not in [i.name for i in list_notebooks(root / ".rag")]


def test_a_notebook_file_brings_back_uploads_and_notes_kept_in_the_hidden_data_folder(shelf, tmp_path):
    root, fruit, _ = shelf
    jam = Notebook.open(
        "Jam", path=root / ".rag", home=root, embedder=fruit.embedder, dense_embedder=fruit.dense_embedder
    )
    uploaded = jam.path / "uploads" / "quince.md"  # where the page saves an upload: under .rag/notebooks/...
    uploaded.parent.mkdir(parents=True)
    uploaded.write_text("# Quince\n\nQuinces are cooked into a firm paste called membrillo.\n", encoding="utf-8")
    jam.index(uploaded, progress=False)
    notes = Notes(jam.path)
    note = notes.add("Kumquats are boiled whole with rock sugar.", "Kumquat jam")
    jam.index(notes.write_source(note), progress=False)
    assert {s["title"] for s in jam.sources()} == {"Quince", "Kumquat jam"}
    assert all(".rag/" in s["source"] for s in jam.sources())  # their names run through the hidden folder
    exported = export_notebook(jam, tmp_path / "jam.notebook.zip")
    with zipfile.ZipFile(exported) as archive:
        members = sorted(m for m in archive.namelist() if m.startswith("sources/"))
    assert members == ["sources/notes/" + f"{note.id}.md", "sources/uploads/quince.md"]
    settings = fruit.settings.updated(path=root / ".rag", home=root)
    imported = import_notebook(exported, settings)
    assert {s["title"] for s in imported.sources()} == {"Quince", "Kumquat jam"}  # every one indexed again
    assert "membrillo" in imported.ask("What are quinces cooked into?").text
    # A file written with hidden names (before they were left out) is unpacked where they are indexed too.
    old = tmp_path / "old.notebook.zip"
    with zipfile.ZipFile(exported) as new, zipfile.ZipFile(old, "w") as archive:
        manifest = json.loads(new.read("manifest.json"))
        for s in manifest["sources"]:
            s["file"] = "sources/.rag/notebooks/jam/" + s["file"].removeprefix("sources/")
            archive.writestr(s["file"], new.read("sources/" + s["file"].split("/jam/")[1]))
        archive.writestr("manifest.json", json.dumps(manifest))
    again = import_notebook(old, settings)
    assert {s["title"] for s in again.sources()} == {"Quince", "Kumquat jam"}
    for nb in (jam, imported, again):
        nb.delete()


def test_a_notebook_file_never_writes_outside_the_new_folder(shelf, tmp_path):
    root, fruit, _ = shelf
    evil = tmp_path / "evil.zip"
    manifest = {
        "format": "rag-notebook",
        "version": 1,
        "name": "Evil",
        "sources": [{"source": "x", "file": "sources/../../../escape.md"}],
    }
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("sources/../../../escape.md", "# escaped")
    nb = import_notebook(evil, fruit.settings.updated(path=root / ".rag", home=root))
    assert nb.sources() == [] and not list(Path(root).rglob("escape.md"))
    nb.delete()


def test_mcp_tools_take_a_notebook_by_name(shelf):
    from rag.mcp import NotebookTools

    _root, fruit, _ = shelf
    tools = NotebookTools(fruit.settings, notebook=fruit)
    assert {n["name"] for n in tools.list_notebooks()["notebooks"]} >= {"Fruit", "Chips"}
    assert [s["source"] for s in tools.list_sources()["sources"]] == ["docs/apples.md"]
    assert next(s["source"] for s in tools.list_sources("Chips")["sources"]) == "docs/chips.md"
    assert tools.search("台積電 晶片", 1, notebook="chips")["hits"][0]["source"] == "docs/chips.md"
    with pytest.raises(NotebookError, match="no notebook named 'Vegetables'"):
        tools.ask("Where do apples grow?", notebook="Vegetables")
