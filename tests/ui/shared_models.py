"""Notebooks for the UI tests that share the seeds notebook's loaded models (loading e5 and USE again costs seconds)."""

from __future__ import annotations

from pathlib import Path


def notebook_sharing_models(seeds_notebook, home: Path, **settings):
    """A Notebook whose data folder is home/.rag and whose models are the seeds notebook's."""
    from rag import Notebook

    return Notebook(
        path=home / ".rag",
        home=home,
        embedder=seeds_notebook.embedder,
        dense_embedder=seeds_notebook.dense_embedder,
        **settings,
    )


def indexed_folder(seeds_notebook, home: Path, folder: str, files: dict[str, str]):
    """`files` written into home/folder (the notebook's seeds folder) and indexed, models shared."""
    (home / folder).mkdir()
    for name, text in files.items():
        (home / folder / name).write_text(text, encoding="utf-8")
    nb = notebook_sharing_models(seeds_notebook, home, seeds=home / folder)
    assert nb.index(home / folder, progress=False).added == len(files)
    return nb
