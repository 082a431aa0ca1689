"""Tests for ingest.loaders: decoding, errors, front matter, titles, file discovery."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ingest.documents import IngestError
from ingest.loaders import decode_bytes, iter_files, load_document

TRAD = (
    "最近韓國有個研究很有意思，他們想知道人工智慧在模擬賭博時，會不會像人一樣做出不太理性的選擇。"
    "於是研究團隊拿幾個主流語言模型來跑上萬次拉霸機實驗，觀察在不同提示語和下注方式下的決策。\n"
    "結果發現，只要讓模型自己決定下注金額，它就很容易越下越多；連輸時也常會加碼想翻本。\n"
    "Google 的 TPU 與 NVIDIA 的 GPU 之爭，台灣供應鏈也受到關注。"
)
SIMP = (
    "最近韩国有个研究很有意思，他们想知道人工智能在模拟赌博时，会不会像人一样做出不太理性的选择。"
    "于是研究团队拿几个主流语言模型来跑上万次拉霸机实验，观察在不同提示语和下注方式下的决策。\n"
    "结果发现，只要让模型自己决定下注金额，它就很容易越下越多；连输时也常会加码想翻本。\n"
    "吉姆哈克的交易员说：产能过剩，应用端竞争激烈。"
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "expected", "encoding"),
    [
        (TRAD.encode("utf-8"), TRAD, "utf-8"),
        (b"\xef\xbb\xbf" + TRAD.encode("utf-8"), TRAD, "utf-8-sig"),
        (SIMP.encode("gb18030"), SIMP, "gb18030"),
        (TRAD.encode("gb18030"), TRAD, "gb18030"),  # traditional characters written as GB18030
        (TRAD.encode("big5"), TRAD, "cp950"),
        (TRAD.encode("cp950"), TRAD, "cp950"),
        ("hello world\n".encode("ascii"), "hello world\n", "utf-8"),
    ],
    ids=["utf8", "utf8-bom", "gb18030-simplified", "gb18030-traditional", "big5", "cp950", "ascii"],
)
def test_decodes_to_the_right_text(tmp_path: Path, data: bytes, expected: str, encoding: str) -> None:
    doc = load_document(write(tmp_path, "a.txt", data))
    assert doc.text == expected
    assert doc.encoding == encoding
    assert not doc.text.startswith("\ufeff")


@pytest.mark.parametrize("encoding", ["big5", "gb18030"])
def test_each_line_of_a_mixed_text_decodes(encoding: str) -> None:
    """Short inputs are the hard case for telling Big5 from GB18030; each line of a mixed text must survive."""
    source = TRAD if encoding == "big5" else SIMP
    for line in source.split("\n"):
        text, _ = decode_bytes(line.encode(encoding))
        assert text == line


def test_short_big5_and_gb18030_words() -> None:
    for word in ["繁體中文", "台灣", "半導體產業", "晶片需求"]:
        assert decode_bytes(word.encode("big5"))[0] == word
    for word in ["简体中文", "半导体产业", "芯片需求", "人工智能"]:
        assert decode_bytes(word.encode("gb18030"))[0] == word


def test_crlf_normalised_and_sha256_of_raw_bytes(tmp_path: Path) -> None:
    raw = "標題\r\n\r\n第一段。\r\n第二段。\r\n".encode()
    doc = load_document(write(tmp_path, "a.md", raw))
    assert doc.text == "標題\n\n第一段。\n第二段。\n"
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()


def assert_error(path: Path, reason: str) -> None:
    with pytest.raises(IngestError) as info:
        load_document(path)
    message = str(info.value)
    assert path.name in message
    assert reason in message
    assert info.value.reason.startswith(reason)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n ", b"\xef\xbb\xbf", "\u3000\n".encode("utf-8")])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    assert_error(write(tmp_path, "empty.txt", data), "empty file")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        bytes(range(1, 8)) * 40 + b"some text",
        "中文 with a NUL\x00 inside".encode(),
    ],
    ids=["png", "control-chars", "nul"],
)
def test_binary_file(tmp_path: Path, data: bytes) -> None:
    assert_error(write(tmp_path, "blob.txt", data), "binary file, not text")


def test_undecodable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", b"hello \x80\xff\x80\xff world \xff")
    assert_error(path, "cannot decode as UTF-8, GB18030, Big5, Shift-JIS, EUC-JP or EUC-KR")


def test_unsupported_suffix(tmp_path: Path) -> None:
    assert_error(write(tmp_path, "slides.pptx", b"PK\x03\x04 slides"), "unsupported file type")
    assert_error(write(tmp_path, "paper.pdf", b"%PDF-1.7 text"), "corrupt or truncated PDF")  # a format read since


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as info:
        load_document(tmp_path / "missing.txt")
    assert "missing.txt" in str(info.value)


def test_front_matter(tmp_path: Path) -> None:
    text = '---\ntitle: "AI 半導體格局"\ndate: 2024-12-13\ncategories: [Semiconductor, AI]\n---\n正文第一段。\n'
    doc = load_document(write(tmp_path, "post.txt", text.encode("utf-8")))
    assert doc.title == "AI 半導體格局"
    assert doc.date == "2024-12-13"
    assert doc.categories == ["Semiconductor", "AI"]
    assert doc.text == text
    assert doc.text[doc.body_start :] == "正文第一段。\n"


def test_front_matter_string_category_and_datetime(tmp_path: Path) -> None:
    text = "---\ntitle: T\ndate: 2024-01-02 03:04:05\ncategories: 投資\n---\nbody\n"
    doc = load_document(write(tmp_path, "p.md", text.encode("utf-8")))
    assert doc.categories == ["投資"]
    assert doc.date is not None and doc.date.startswith("2024-01-02")


def test_broken_front_matter_is_kept_as_text(tmp_path: Path) -> None:
    text = "---\ntitle: [unclosed\n: : :\n---\n# 真正的標題\n內容。\n"
    doc = load_document(write(tmp_path, "p.md", text.encode("utf-8")))
    assert doc.body_start == 0
    assert doc.title == "真正的標題"
    assert doc.date is None and doc.categories == []


def test_title_fallbacks(tmp_path: Path) -> None:
    heading = load_document(write(tmp_path, "h.md", "intro line\n\n## 第二節 標題 ##\ntext\n".encode()))
    assert heading.title == "第二節 標題"
    first_line = load_document(write(tmp_path, "f.txt", ("\n\n  " + "長" * 200 + "\nmore\n").encode("utf-8")))
    assert first_line.title == "長" * 120
    stem = load_document(write(tmp_path, "只有符號.txt", b"---\n***\n"))
    assert stem.title == "只有符號"


def test_source_relative_to_root(tmp_path: Path) -> None:
    path = write(tmp_path, "notes/2024/a.md", b"# A\n")
    assert load_document(path, tmp_path).source == "notes/2024/a.md"
    assert load_document(path).source == "a.md"


def test_iter_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for name in ["b.md", "a.txt", "sub/c.TXT", "sub/d.pptx", ".hidden.md", ".git/e.txt", "sub/.cache/f.md"]:
        write(corpus, name, b"x\n")
    single = write(tmp_path / "other", "g.md", b"g\n")
    found = iter_files([corpus / "sub", corpus, single, single])
    assert [(f.relative_to(r).as_posix(), r) for f, r in found] == [
        ("c.TXT", corpus / "sub"),
        ("a.txt", corpus),
        ("b.md", corpus),  # sub/c.TXT is not listed twice
        ("g.md", tmp_path / "other"),
    ]
    with pytest.raises(IngestError):
        iter_files([tmp_path / "nope"])


# ---- files that are not plain files of the folder: links out, loops, dangling links, FIFOs -----------------


def _links_folder(tmp_path: Path) -> tuple[Path, Path]:
    """docs/ with a real note, a link to a secret outside it, a loop, a dangling link and a FIFO (all .txt)."""
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    write(docs, "note.txt", b"TPU and GPU notes.\n")
    secret = write(outside, "secret.txt", b"root:x:0:0:root:/root:/bin/bash\n")
    (docs / "passwd.txt").symlink_to(secret)
    (docs / "loop-a.txt").symlink_to(docs / "loop-b.txt")
    (docs / "loop-b.txt").symlink_to(docs / "loop-a.txt")
    (docs / "dangling.md").symlink_to(tmp_path / "gone.md")
    (docs / "same-note.txt").symlink_to(docs / "note.txt")  # inside: the note is indexed once, under its own name
    (docs / "outside-folder").symlink_to(outside, target_is_directory=True)
    os.mkfifo(docs / "pipe.txt")
    return docs, outside


def test_links_loops_and_fifos_are_listed_and_each_refused_in_one_line(tmp_path: Path) -> None:
    docs, _ = _links_folder(tmp_path)
    found = [f.name for f, _ in iter_files([docs])]
    assert found == ["dangling.md", "loop-a.txt", "loop-b.txt", "note.txt", "outside-folder", "passwd.txt", "pipe.txt"]
    reasons = {}
    for file, root in iter_files([docs]):
        try:
            load_document(file, root)
        except IngestError as err:
            assert "\n" not in str(err) and str(err).startswith(str(file))
            reasons[file.name] = err.reason
    assert set(reasons) == set(found) - {"note.txt"}
    assert "outside the indexed folder" in reasons["passwd.txt"] and "RAG_FOLLOW_OUTSIDE_LINKS" in reasons["passwd.txt"]
    assert "outside the indexed folder" in reasons["outside-folder"]
    assert reasons["loop-a.txt"] == reasons["loop-b.txt"] == "symbolic link loop"
    assert "broken symbolic link" in reasons["dangling.md"]
    assert reasons["pipe.txt"] == "a FIFO, not a regular file"  # and it was never opened: no hang
    assert load_document(docs / "passwd.txt", docs, allow_outside_links=True).text.startswith("root:")


def test_allowed_outside_links_walk_a_linked_folder_once_even_with_a_loop(tmp_path: Path) -> None:
    docs, outside = _links_folder(tmp_path)
    (outside / "back").symlink_to(outside, target_is_directory=True)  # a loop through the linked folder
    found = {f.relative_to(docs).as_posix() for f, _ in iter_files([docs], follow_outside_links=True)}
    assert "outside-folder/secret.txt" in found and "passwd.txt" not in found  # the same file, found once
    assert not any("back" in f for f in found)


def test_a_fifo_or_broken_link_given_directly_is_named_not_missing(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    for name, reason in (("pipe.md", "FIFO"), ("dangling.txt", "broken symbolic link")):
        [(file, root)] = iter_files([tmp_path / name])
        with pytest.raises(IngestError, match=reason):
            load_document(file, root)


def test_a_notebook_refuses_a_link_out_and_forgets_sources_whose_files_are_gone(
    notebook_at, tmp_path: Path, capsys
) -> None:
    docs, _ = _links_folder(tmp_path)
    (docs / "note.txt").write_text("The Ironwood TPU is Google's seventh-generation chip.\n", encoding="utf-8")
    nb = notebook_at(tmp_path, path=tmp_path / ".rag")
    report = nb.index(docs, progress=False)
    assert report.added == 1 and [s["source"] for s in nb.sources()] == ["docs/note.txt"]
    assert len(report.errors) == 6 and all("\n" not in e for e in report.errors)  # every bad entry named once
    assert not any("root:x" in h.text for h in nb.search("root bash", k=5))

    allowed = nb.with_settings(follow_outside_links=True)
    allowed.index(docs, progress=False)
    assert {s["source"] for s in nb.sources()} == {"docs/note.txt", "docs/outside-folder/secret.txt"}
    (docs / "outside-folder").unlink()
    allowed.index(docs, progress=False)
    assert {s["source"] for s in nb.sources()} == {"docs/note.txt", "docs/passwd.txt"}  # the link's name
    (docs / "passwd.txt").unlink()
    allowed.index(docs, progress=False)
    assert [s["source"] for s in nb.sources()] == ["docs/note.txt"]
    assert not any("root:x" in h.text for h in nb.search("root bash", k=5))

    # A file outside the home indexed by name has an absolute source: it leaves once the file is gone.
    lone = write(tmp_path.parent / f"{tmp_path.name}-elsewhere", "lone.txt", b"A lone note about HBM memory.\n")
    nb.index(lone, progress=False)
    assert str(lone.resolve()) in {s["source"] for s in nb.sources()}
    lone.unlink()
    nb.index(docs, progress=False)
    assert [s["source"] for s in nb.sources()] == ["docs/note.txt"]
    assert nb.chunk_index.in_step()


# ---- Japanese and Korean legacy encodings, invisible characters ----------------------------------------------

JA = (
    "最近、東京の研究チームは人工知能が賭博をシミュレーションする時に、人間のように非合理的な選択をするかどうかを"
    "調べました。結果として、モデルに賭け金を決めさせると、どんどん多く賭けるようになることが分かりました。"
)
KO = (
    "최근 한국의 한 연구는 매우 흥미롭습니다. 그들은 인공지능이 도박을 시뮬레이션할 때 사람처럼 비합리적인 선택을 "
    "하는지 알고 싶어했습니다. 결과적으로 모델이 스스로 베팅 금액을 정하게 하면 점점 더 많이 베팅하게 됩니다."
)


@pytest.mark.parametrize(
    ("text", "codec", "encoding"),
    [(JA, "shift_jis", "cp932"), (JA, "cp932", "cp932"), (JA, "euc_jp", "euc_jp"), ("こんにちは世界", "shift_jis", "cp932"),
     (KO, "euc_kr", "cp949"), (KO, "cp949", "cp949"), ("안녕하세요 세계", "euc_kr", "cp949")],
)  # fmt: skip
def test_shift_jis_euc_jp_and_euc_kr_are_read_as_japanese_and_korean_not_garbage_chinese(
    tmp_path: Path, text: str, codec: str, encoding: str
) -> None:
    doc = load_document(write(tmp_path, "legacy.txt", text.encode(codec)))
    assert (doc.text, doc.encoding) == (text, encoding)


@pytest.mark.parametrize("codec", ["gb18030", "big5"])
def test_short_chinese_that_also_decodes_as_korean_stays_chinese(codec: str) -> None:
    for words in ("你好世界", "台積電 代工 晶片", SIMP if codec == "gb18030" else TRAD):
        assert decode_bytes(words.encode(codec))[0] == words


def test_zero_width_and_direction_characters_are_stripped_before_chunking(tmp_path: Path) -> None:
    hidden = "\ufeffIron\u200bwood \u202eTPU\u202c 是 Google 的\u200d晶\u2060片。\u200e\u200f\u2061\u2064"
    doc = load_document(write(tmp_path, "hidden.md", hidden.encode("utf-8")))
    assert doc.text == "Ironwood TPU 是 Google 的晶片。"
