"""The reader registry: a plugin registers a reader for a suffix and the loader, the folder walk and titles use it."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import iter_files, load_document, supported_suffixes
from ingest.readers import Extracted, Limits, reader_for, register
from ingest.readers import base as registry


class RotReader:
    """A toy format: ROT13 text, one heading per "= " line."""

    suffixes = (".rot",)

    def read(self, raw: bytes, path: Path, limits: Limits) -> Extracted:
        import codecs

        text = codecs.decode(raw.decode("ascii"), "rot13")
        headings = [(text.index(line), line[2:]) for line in text.splitlines() if line.startswith("= ")]
        return Extracted(text, title="Rot Notes", headings=headings)


def test_a_registered_reader_is_used_for_its_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the plugin leaves with the test
    register(RotReader())
    assert reader_for(".ROT") is not None and ".rot" in supported_suffixes()
    import codecs

    (tmp_path / "a.rot").write_text(
        codecs.encode("= Tides\n\nThe tide turns twice a day.\n", "rot13"), encoding="ascii"
    )
    (tmp_path / "b.xyz").write_text("ignored", encoding="ascii")
    assert [f.name for f, _ in iter_files([tmp_path])] == ["a.rot"]
    doc = load_document(tmp_path / "a.rot")
    assert doc.title == "Rot Notes" and doc.headings == [(0, "Tides")] and "twice a day" in doc.text


def test_the_built_in_formats() -> None:
    assert {".pdf", ".docx", ".html", ".htm", ".epub", ".txt", ".md"} <= supported_suffixes()
