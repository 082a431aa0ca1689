"""The page's notebook events (ui.shelf) on real notebooks: state read at load, a `rag index` in another process
reaching the lists, chats saved and reopened, notes from answers, exports, a notebook file imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from ui import session, shelf

REPO = Path(__file__).resolve().parents[2]
APPLES = "# Apples\n\nApples grow on trees in orchards. Farmers pick apples in autumn and press them into cider.\n"
PEARS = "# Pears\n\nPears ripen after they are picked and keep in a cool cellar for months.\n"


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """A page's notebooks: "Fruit" (apples.md) open, under a data folder of its own."""
    from rag import Notebook

    home = tmp_path_factory.mktemp("shelf-home")
    (home / "apples.md").write_text(APPLES, encoding="utf-8")
    nb = Notebook.open("Fruit", path=home / ".rag", home=home)
    nb.index(home / "apples.md", progress=False)
    return home, nb, shelf.open_shelf(nb)


@pytest.mark.process
def test_the_page_reads_its_state_from_the_notebook_and_sees_another_process_index(opened):
    home, nb, notebooks = opened
    state = shelf.page_state(notebooks, None)
    assert state[0] == nb.info.id and state[2] == "Fruit"
    assert [value for _, value in state[3]["choices"]] == ["apples.md"]
    assert state[6]["value"] == [] and state[8] == ""  # a browser with nothing saved starts a new chat
    seen = state[10]
    assert shelf.sources_changed(nb, seen, []) == (shelf.gr.skip(),) * 3  # nothing new
    (home / "pears.md").write_text(PEARS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "rag.cli",
        "--path",
        str(home / ".rag"),
        "--notebook",
        "Fruit",
        "index",
        "pears.md",
    ]
    done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    scope, remove, now = shelf.sources_changed(nb, seen, ["apples.md"])
    assert {value for _, value in scope["choices"]} == {"apples.md", "pears.md"}
    assert "value" not in scope  # what the page has ticked stays as the page has it
    assert remove["choices"] == scope["choices"] and now != seen


def test_chats_are_saved_reopened_on_reload_and_deleted(opened):
    _, nb, notebooks = opened
    from ui.session import Turn

    answer = nb.ask("Where do apples grow?")
    history = [{"role": "user", "content": "Where do apples grow?"}, {"role": "assistant", "content": answer.text}]
    chat_id, picker, saved = shelf.save_chat(nb, "", history, [Turn(answer, answer.hits)])
    assert chat_id and saved == {"notebook": nb.info.id, "chat": chat_id}
    assert [value for _, value in picker["choices"]] == [chat_id]
    state = shelf.page_state(notebooks, saved)  # a reload: the browser kept `saved`
    assert state[6]["value"] == history and state[8] == chat_id
    assert state[7][0].answer.citations == answer.citations  # citations still open after the reload
    assert shelf.page_state(notebooks, {"notebook": nb.info.id, "chat": "gone"})[8] == ""
    # The list left without a pick sends the open chat again: nothing changes; another chat picked opens.
    assert shelf.open_chat(nb, chat_id, chat_id) == (gr.skip(),) * 5
    reopened, _, open_id, _, _ = shelf.open_chat(nb, chat_id, "")
    assert reopened == history and open_id == chat_id
    chat, turns, cleared, picker, _ = shelf.delete_chat(nb, chat_id)
    assert chat == [] and turns == [] and cleared == "" and picker["choices"] == []


def test_an_answer_becomes_a_note_and_the_exports_are_files(opened, monkeypatch):
    _, nb, _ = opened
    from ui.session import Turn

    answer = nb.ask("What do farmers press apples into?")
    history = [
        {"role": "user", "content": "What do farmers press apples into?"},
        {"role": "assistant", "content": answer.text},
    ]
    status, picker = shelf.save_answer(nb, history, [Turn(answer, answer.hits)], "", None, "en")
    assert status.startswith("✓ Saved the note") and picker["value"] is None  # the editor holds no note
    saved = next(i for t, i in picker["choices"] if t == "What do farmers press apples into?")
    title, body, open_id = shelf.open_note(nb, saved)
    assert open_id == saved
    assert title == "What do farmers press apples into?" and "cider" in body
    assert shelf.save_answer(nb, history[:1], [], "", None, "en")[0] == "No answer to save yet."
    chat = Path(shelf.export(nb, "", history, [Turn(answer, answer.hits)], what="chat")).read_text(encoding="utf-8")
    assert "[1]" in chat and "## Citations" in chat and "apples.md" in chat
    notes = Path(shelf.export(nb, "", [], [], what="notes")).read_text(encoding="utf-8")
    assert notes.startswith("# Fruit: notes") and "cider" in notes
    zipped = shelf.export(nb, "", [], [], what="file")
    assert zipped.endswith(".notebook.zip")
    from rag.notebook import Notebook

    made, init = [], Notebook.__init__
    monkeypatch.setattr(Notebook, "__init__", lambda self, *a, **kw: made.append(1) or init(self, *a, **kw))
    status, saved, _ = shelf.import_file(opened[2], zipped, "en")
    assert status == "✓ Imported “Fruit (2)”." and saved["notebook"]
    copy = opened[2].get(saved["notebook"])
    # Opened once, by the page's shelf with the models it has loaded (not by the import with models of its own).
    assert len(made) == 1 and copy.dense_embedder is nb.dense_embedder
    assert {s["title"] for s in copy.sources()} == {s["title"] for s in nb.sources()}
    assert json.loads(json.dumps(copy.info.as_dict()))["name"] == "Fruit (2)"
    # Its sources are the notebook's own copies: re-index keeps them in step, remove deletes the copy.
    assert copy.path.resolve() / "sources" in session.reindex_paths(copy)
    report = copy.index(*session.reindex_paths(copy), progress=False)
    assert report.removed == 0 and {s["title"] for s in copy.sources()} == {s["title"] for s in nb.sources()}
    apples = next(s["source"] for s in copy.sources() if s["title"] == "Apples")
    assert session.remove_source(copy, apples)
    copy.index(*session.reindex_paths(copy), progress=False)
    assert "Apples" not in [s["title"] for s in copy.sources()]


def test_the_notes_picker_keeps_the_note_open_in_the_editor_so_saving_it_makes_no_copy(opened):
    _, nb, _ = opened
    from rag.notes import Notes
    from ui.session import Turn

    kumquat = shelf.write_note(nb, None, "Kumquat jam", "Boil kumquats whole with rock sugar.", "", "en")[1]["value"]
    lychee = shelf.write_note(nb, None, "Lychee tart", "Fresh lychees on cream.", "", "en")[1]["value"]
    assert kumquat and lychee and kumquat != lychee

    def listed(picker) -> list[str]:
        return [i for _, i in picker["choices"]]

    assert listed(shelf.find_notes(nb, "lychees", None)) == [lychee]  # the search narrows the list
    # The list left without a pick sends the open note again: the editor is left as it is; another note opens.
    assert shelf.open_note(nb, kumquat, kumquat) == (gr.skip(),) * 3
    assert shelf.open_note(nb, lychee, kumquat) == ("Lychee tart", "Fresh lychees on cream.", lychee)
    # The note open in the editor (picked) stays listed and picked while the search narrows the others ...
    picker = shelf.find_notes(nb, "lychees", kumquat)
    assert set(listed(picker)) == {kumquat, lychee} and picker["value"] == kumquat
    # ... so that saving the editor then edits it, even when its new text does not match the search.
    status, picker, open_id = shelf.write_note(
        nb, kumquat, "Kumquat marmalade", "Slice kumquats thin.", "lychees", "en"
    )
    assert open_id == kumquat
    assert status == "✓ Saved the note “Kumquat marmalade”." and picker["value"] == kumquat
    assert kumquat in listed(picker)
    assert [n.title for n in Notes(nb.path).list() if n.title.startswith("Kumquat")] == ["Kumquat marmalade"]
    # An answer saved as a note leaves the editor's note picked (the editor would otherwise save over the answer).
    answer = nb.ask("What do farmers press apples into?")
    history = [{"role": "user", "content": "Apples?"}, {"role": "assistant", "content": answer.text}]
    picker = shelf.save_answer(nb, history, [Turn(answer, answer.hits)], "", kumquat, "en")[1]
    assert picker["value"] == kumquat and len(listed(picker)) == len(Notes(nb.path).list())
    # A note deleted meanwhile (another tab) is no longer picked.
    Notes(nb.path).delete(kumquat)
    picker = shelf.find_notes(nb, "", kumquat)
    assert picker["value"] is None and kumquat not in listed(picker)


def test_notebooks_made_renamed_and_deleted_only_by_their_typed_name(opened):
    *_, notebooks = opened
    status, saved = shelf.create(notebooks, "Scratch", "en")
    # Picked in the notebook picker: shown, its state read; the picker left without a pick changes nothing.
    first = notebooks.default().id
    state = shelf.page_state(notebooks, None)
    assert len(state) == shelf.PAGE_STATE_OUTPUTS
    switched = shelf.switch(notebooks, saved["notebook"], first, [], "en")
    assert switched[0] == saved and switched[1] == saved["notebook"] and len(switched) == 1 + len(state) + 5
    assert shelf.switch(notebooks, first, first, [], "en") == (gr.skip(),) * len(switched)
    assert status.startswith("✓ Made “Scratch”") and saved["chat"] == ""
    assert shelf.create(notebooks, "scratch", "en")[0] == "a notebook named 'scratch' already exists"
    ref = saved["notebook"]
    assert shelf.page_state(notebooks, saved, examples=["TPU能否取代GPU?"])[6]["examples"] is None  # empty: none
    assert shelf.page_state(notebooks, None, examples=["TPU能否取代GPU?"])[6]["examples"]  # Fruit has documents
    status, picker = shelf.rename(notebooks, ref, "Scratch pad", "en")
    assert status == "✓ Renamed to “Scratch pad”." and ("Scratch pad", ref) in picker["choices"]
    assert shelf.delete(notebooks, ref, "Scratch", "en")[0].startswith("To delete “Scratch pad”")
    assert shelf.delete(notebooks, ref, "Scratch pad", "en")[0] == "✓ Deleted “Scratch pad”."
    assert "Scratch pad" not in [name for name, _ in shelf.notebook_choices(notebooks)]


def test_a_note_added_as_a_document_is_indexed_and_answers(opened):
    _, nb, _ = opened
    text = "Quinces are cooked into a firm paste called membrillo."
    note_id = shelf.write_note(nb, None, "Quince", text, "", "en")[1]["value"]
    assert shelf.note_as_source(nb, None, "en") == "Pick a note first."
    status = shelf.note_as_source(nb, note_id, "en")  # the status line itself (one output)
    assert status.startswith("⏳ Indexing Quince in the background"), status
    assert nb.background.wait(timeout=120)
    assert [s["title"] for s in nb.sources() if s["source"].endswith(f"notes/{note_id}.md")] == ["Quince"]
    answer = nb.ask("What are quinces cooked into?")
    assert "membrillo" in answer.text and answer.citations
    # Taken out in the page, its copy goes too: a re-index does not bring it back (the note itself stays).
    source = next(s["source"] for s in nb.sources() if s["title"] == "Quince")
    assert session.remove_source(nb, source) and not nb.source_file(source).exists()
    nb.index(*session.reindex_paths(nb), progress=False)
    assert "Quince" not in [s["title"] for s in nb.sources()] and shelf.open_note(nb, note_id)[0] == "Quince"
