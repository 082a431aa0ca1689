"""The background indexer of ui.session on a real notebook: stopped mid-file, it leaves no part of the file visible."""

from __future__ import annotations

import time

from rag.background import BackgroundIndexer
from ui import session


def test_stopping_the_background_indexer_mid_file_shows_nothing_of_it(notebook_at, tmp_path):
    nb = notebook_at(tmp_path, embed_batch=2)
    big = tmp_path / "uploads" / "big.md"
    big.parent.mkdir()
    big.write_text(
        "# Big\n\n" + "\n\n".join(f"Survey {i} of krill in the cold current. " * 8 for i in range(40)), encoding="utf-8"
    )
    indexer = BackgroundIndexer(nb)
    job = indexer.submit("big.md", [big])
    deadline = time.time() + 120
    while indexer.done < 4 and time.time() < deadline:
        time.sleep(0.05)
    assert indexer.stop(timeout=60)  # ended at its next batch (how soon is a figure for bench, not a test)
    assert isinstance(job.error, KeyboardInterrupt)
    assert indexer.take_finished() == [job]
    assert nb.count() == 0 and nb.sources() == [] and nb.search("krill in the cold current") == []
    stored = nb.chunk_index.metadata_by_source(everything=True)
    assert len(stored["uploads/big.md"]) >= 4  # its finished batches wait for the next run
    # Re-index covers uploads (it finishes the file), not seeds/: the notebook holds none of them.
    assert session.reindex_paths(nb) == [tmp_path / "uploads"]
    report = nb.index(*session.reindex_paths(nb), progress=False)
    assert report.added == 1 and report.embedded <= report.chunks - 4
