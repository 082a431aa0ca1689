"""Tests for ingest.chunker: size limits, exact offsets, full coverage, sentence integrity, sections."""

from __future__ import annotations

import itertools
import math
import random
import re
from pathlib import Path

import pytest

from ingest.chunker import SENTENCE, Chunker
from ingest.documents import Chunk, Document
from ingest.loaders import load_document

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_WORD = re.compile(r"[A-Za-z0-9]+")


def count_tokens(text: str) -> int:
    """Cheap stand-in for a subword tokenizer: a CJK character is 1 token, a latin word 1.3, any other
    non-space symbol 1."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    other = sum(1 for ch in text if not ch.isspace() and not ch.isalnum())
    return cjk + other + math.ceil(1.3 * words)


def make_doc(text: str, body_start: int = 0, date: str | None = None) -> Document:
    return Document(
        source="t.txt", path=Path("t.txt"), text=text, title="T", sha256="0", date=date, body_start=body_start
    )


def check_invariants(doc: Document, chunks: list[Chunk], chunker: Chunker, counter=count_tokens) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = bytearray(len(doc.text))
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert counter(c.text) <= chunker.hard_max_tokens, (counter(c.text), c.text[:80])
        assert c.start >= doc.body_start
        # A dated post's chunks cite the post's own title (the end of its section label), others the document's.
        assert c.title == doc.title or f" · {c.title}" in c.section
        assert c.source == doc.source
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    missing = [i for i in range(doc.body_start, len(doc.text)) if not doc.text[i].isspace() and not covered[i]]
    assert not missing, f"uncovered text at {missing[:5]}: {doc.text[missing[0] : missing[0] + 40]!r}"
    # Chunks never straddle sections and carry their section's label.
    sections = chunker.sections(doc)
    for c in chunks:
        owners = [s for s in sections if s.start <= c.start and c.end <= s.end]
        assert len(owners) == 1 and owners[0].label == c.section, (c.section, c.text[:60])


# ----------------------------------------------------------------- random corpora

CJK_WORDS = "晶片 需求 模型 訓練 推理 市場 投資 半導體 人工智慧 资料中心 供应链 成本 效率 風險 台灣 美國 研究 團隊 发现 决策".split()  # noqa: SIM905
EN_WORDS = "the model market chip demand training inference cost growth risk data center supply NVIDIA TPU GPU".split()  # noqa: SIM905
SPECIAL = ["3.5", "e.g.", "U.S.", "GPT-5.2", "1,000", "Mr. Smith"]
ENDERS = ["。", "！", "？", "!", "?", "」。", "。」"]


def random_sentence(rng: random.Random, long: bool = False) -> str:
    """One sentence: words and clauses, ending with sentence punctuation."""
    n_clauses = rng.randint(20, 40) if long else rng.randint(1, 4)
    clauses = []
    for _ in range(n_clauses):
        if rng.random() < 0.5:
            clause = "".join(rng.choice(CJK_WORDS) for _ in range(rng.randint(2, 8)))
            if rng.random() < 0.3:
                clause += rng.choice(SPECIAL)
            clauses.append(clause)
        else:
            words = [rng.choice(EN_WORDS + SPECIAL) for _ in range(rng.randint(2, 8))]
            clauses.append(" ".join(words))
    sep = rng.choice(["，", "；", "、", ", "])
    body = sep.join(clauses)
    body = body[0].upper() + body[1:]  # an English sentence starts with a capital letter
    if body[-1].isascii() and rng.random() < 0.5:
        return f"{body} {rng.choice(EN_WORDS)}. "  # not "U.S. " or "e.g. ": those don't end a sentence
    ender = rng.choice(ENDERS)
    return body.rstrip(".") + ender + (" " if ender.isascii() else "")  # "!" / "?" end a sentence before a space


def random_corpus(rng: random.Random) -> tuple[str, list[tuple[int, int]]]:
    """Text of paragraphs of lines of sentences, plus the (start, end) span of every sentence."""
    parts: list[str] = []
    sentences: list[tuple[int, int]] = []
    pos = 0

    def emit(s: str, sentence: bool = False) -> None:
        nonlocal pos
        if sentence:
            stripped = s.strip()
            lead = len(s) - len(s.lstrip())
            sentences.append((pos + lead, pos + lead + len(stripped)))
        parts.append(s)
        pos += len(s)

    for p in range(rng.randint(3, 12)):
        if rng.random() < 0.2:
            emit(f"## 第{p}節 Section {p}\n\n")
        if rng.random() < 0.05:
            emit("無標點" * rng.randint(100, 400) + "\n\n")  # a giant unbroken string
        for _ in range(rng.randint(1, 4)):
            for _ in range(rng.randint(1, 6)):
                emit(random_sentence(rng, long=rng.random() < 0.05), sentence=True)
            emit("\n")
        emit("\n" * rng.randint(1, 2))
    return "".join(parts), sentences


@pytest.mark.parametrize("seed", range(40))
def test_random_corpora_properties(seed: int) -> None:
    rng = random.Random(seed)
    text, sentences = random_corpus(rng)
    max_tokens = rng.choice([32, 64, 128, 256])
    overlap = rng.choice([0, max_tokens // 8, max_tokens // 4])
    hard = rng.choice([None, max_tokens + 32])
    chunker = Chunker(count_tokens, max_tokens=max_tokens, overlap_tokens=overlap, hard_max_tokens=hard)
    doc = make_doc(text)
    chunks = chunker.split(doc)
    check_invariants(doc, chunks, chunker)

    # No cut inside a sentence that fits within the limit (chunk starts/ends are sentence boundaries).
    edges = {c.start for c in chunks} | {c.end for c in chunks}
    for s, e in sentences:
        if count_tokens(text[s:e]) <= chunker.hard_max_tokens:
            inside = [x for x in edges if s < x < e]
            assert not inside, f"cut inside fitting sentence {text[s:e]!r}"

    # Overlap is whole sentences within the budget, and never exceeds it.
    for a, b in itertools.pairwise(chunks):
        if a.section == b.section and b.start < a.end:
            assert overlap > 0
            assert count_tokens(doc.text[b.start : a.end]) <= overlap


def test_overlap_is_whole_trailing_sentences() -> None:
    rng = random.Random(7)
    short = ["今天天氣很好。", "市場需求強勁！", "Chips are scarce. ", "模型訓練成本高嗎？", "供應鏈吃緊。"]
    text = "".join(rng.choice(short) for _ in range(300))
    chunker = Chunker(count_tokens, max_tokens=64, overlap_tokens=16)
    doc = make_doc(text)
    chunks = chunker.split(doc)
    check_invariants(doc, chunks, chunker)
    pairs = list(itertools.pairwise(chunks))
    assert all(b.start < a.end for a, b in pairs)  # every short-sentence chunk gets an overlap
    for a, b in pairs:
        shared = doc.text[b.start : a.end]
        assert 0 < count_tokens(shared) <= 16
        assert a.text.endswith(shared)
        assert any(shared.startswith(x.strip()) for x in short)  # starts at a sentence start
        assert b.end > a.end  # progress


def test_punctuation_stays_with_its_sentence() -> None:
    text = "第一句話說完了。第二句也很長，但是沒有問題！第三句是問題嗎？「第四句帶引號。」Fifth sentence is English. Sixth one!"
    chunker = Chunker(count_tokens, max_tokens=14, overlap_tokens=0)
    chunks = chunker.split(make_doc(text))
    check_invariants(make_doc(text), chunks, chunker)
    for c in chunks:
        assert c.text[0] not in "。！？，、；：!?,.;:」』”", c.text
    assert [c.text for c in chunks][:4] == [
        "第一句話說完了。",
        "第二句也很長，但是沒有問題！",
        "第三句是問題嗎？",
        "「第四句帶引號。」",
    ]


def test_sentence_cuts_skip_decimals_and_abbreviations() -> None:
    chunker = Chunker(count_tokens)
    text = "Price rose 3.5 percent, e.g. in the U.S. market. Mr. Smith agreed. Next one\n1. item one\n價格3.5美元。"
    cuts = chunker.cut_points(text, 0, len(text), SENTENCE)
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    assert pieces == [
        "Price rose 3.5 percent, e.g. in the U.S. market. ",
        "Mr. Smith agreed. ",
        "Next one\n1. item one\n價格3.5美元。",
    ]


def test_giant_unbroken_string_is_hard_cut() -> None:
    text = "前言。\n\n" + "沒有標點的超長字串" * 300 + "\n\n結尾。"
    chunker = Chunker(count_tokens, max_tokens=50, overlap_tokens=10)
    chunks = chunker.split(make_doc(text))
    check_invariants(make_doc(text), chunks, chunker)
    assert max(count_tokens(c.text) for c in chunks) == 50


def test_underestimating_counter_still_respects_the_limit() -> None:
    """A counter where joined text costs more than the sum of its parts (whitespace and boundaries count)."""

    def clingy(text: str) -> int:
        return count_tokens(text) + len(re.findall(r"\s+", text)) + 2  # +2 like [CLS] [SEP]

    rng = random.Random(3)
    text = "\n\n".join("\n".join(random_sentence(rng) for _ in range(3)) for _ in range(60))
    chunker = Chunker(clingy, max_tokens=64, overlap_tokens=12)
    doc = make_doc(text)
    chunks = chunker.split(doc)
    check_invariants(doc, chunks, chunker, counter=clingy)


def test_text_without_sections_and_front_matter() -> None:
    text = "---\ntitle: x\n---\n第一段。\n\n第二段。\n"
    doc = make_doc(text, body_start=text.index("第一段"), date="2024-01-01")
    chunks = Chunker(count_tokens).split(doc)
    assert [c.text for c in chunks] == ["第一段。\n\n第二段。"]
    assert chunks[0].section == "" and chunks[0].date == "2024-01-01"
    assert Chunker(count_tokens).split(make_doc("   \n\n  ")) == []


def test_section_detection_inline() -> None:
    text = (
        "# 文件標題\n"
        "## 第一節\n"
        "第一節內容。\n\n"
        "2025年1月2日 星期四\n\n"
        "新年第一篇\n\n"
        "今天天氣很好，我們去爬山。\n\n"
        "短標題\n\n"
        "這是短標題下面比較長的一段文字，用來確認短標題會被視為章節的開頭，而不是普通段落。\n\n"
        "- 清單項目\n\n"
        "這是清單項目後面比較長的一段文字，清單項目不應該被當作章節標題來處理的。\n"
    )
    doc = make_doc(text)
    chunker = Chunker(count_tokens)
    labels = [(s.label, s.date) for s in chunker.sections(doc)]
    assert labels == [
        ("第一節", None),  # "# 文件標題" has nothing under it: folded into the next section
        ("2025年1月2日 星期四 · 新年第一篇", "2025-01-02"),
        ("2025年1月2日 星期四 · 新年第一篇 › 短標題", "2025-01-02"),
    ]
    chunks = chunker.split(doc)
    check_invariants(doc, chunks, chunker)
    assert chunks[0].text.startswith("# 文件標題")
    assert [c.date for c in chunks] == [None, "2025-01-02", "2025-01-02"]


def test_a_sentence_starting_with_a_date_is_not_a_post() -> None:
    text = "前言。\n\n2024年3月5日，公司宣布了新的產品線，市場反應熱烈。\n"
    assert [s.label for s in Chunker(count_tokens).sections(make_doc(text))] == [""]


# ----------------------------------------------------------------- the seed corpus

needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="seeds/ not present")


@needs_seeds
@pytest.mark.parametrize("max_tokens", [64, 256])
def test_seed_files_properties(max_tokens: int) -> None:
    chunker = Chunker(count_tokens, max_tokens=max_tokens, overlap_tokens=max_tokens // 5)
    for path in sorted(SEEDS.glob("*.txt")):
        doc = load_document(path, SEEDS)
        chunks = chunker.split(doc)
        assert chunks, path
        check_invariants(doc, chunks, chunker)


@needs_seeds
def test_seed_dated_posts_are_sections() -> None:
    path = next(SEEDS.glob("001_*.txt"))
    doc = load_document(path, SEEDS)
    chunks = Chunker(count_tokens).split(doc)
    date_lines = re.findall(r"^(\d{4})年(\d{1,2})月(\d{1,2})日.*$", doc.text, re.MULTILINE)
    assert len(date_lines) >= 4
    for y, m, d in date_lines:
        iso = f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
        post_chunks = [c for c in chunks if c.date == iso]
        assert post_chunks, iso
        assert all(c.section.startswith(f"{y}年{m}月{d}日") and " · " in c.section for c in post_chunks)
    first = chunks[0]
    assert first.section == "2025年11月27日 星期四 · 想知道 AI 在模擬賭博時,會不會像人一樣做出不太理性的選擇"
    assert first.date == "2025-11-27"
    # Each post's chunks cite the post's own title, not the file's (its first post's).
    tpu = [c for c in chunks if c.date == "2025-11-26"]
    assert tpu and all(c.title == "「究竟TPU能否取代GPU了」fomo 研究院" for c in tpu)
    assert doc.title == first.title


@needs_seeds
def test_seed_standalone_headings_are_sections() -> None:
    path = next(SEEDS.glob("004_*.txt"))
    doc = load_document(path, SEEDS)
    assert doc.date == "2024-12-13"
    chunks = Chunker(count_tokens).split(doc)
    sections = {c.section for c in chunks}
    assert {"Highlight", "晶片需求"} <= sections
    assert all(c.date == "2024-12-13" for c in chunks)
    assert not any("layout: post" in c.text for c in chunks)  # front matter is not chunked


@needs_seeds
def test_seed_markdown_headings_are_sections() -> None:
    doc = load_document(next(SEEDS.glob("000_*.txt")), SEEDS)
    sections = {c.section for c in Chunker(count_tokens).split(doc)}
    assert {"📌 一句話摘要", "📈 提及的公司與股票", "話題二：Groq的LPU晶片"} <= sections


@needs_seeds
def test_the_whole_seed_corpus_chunks_within_the_token_limit() -> None:
    # How fast is bench's (bench/chunking.py): a test on a busy machine asserts what, not how soon.
    docs = [load_document(p, SEEDS) for p in sorted(SEEDS.glob("*.txt"))]
    assert sum(p.stat().st_size for p in SEEDS.glob("*.txt")) > 100_000
    chunker = Chunker(count_tokens, max_tokens=256, overlap_tokens=48)
    for doc in docs:
        chunks = chunker.split(doc)
        assert chunks and all(count_tokens(c.text) <= 256 for c in chunks)


# ----------------------------------------------------------------- unbroken text (issue 13 point 5)


@pytest.fixture(scope="module")
def e5_count_tokens():
    """The default embedder's real tokenizer (untruncated), as the notebook counts chunk sizes."""
    from tokenizers import Tokenizer

    from rag.embed import offline_e5_folder
    from rag.settings import Settings

    tokenizer = Tokenizer.from_file(str(offline_e5_folder(Settings().cache_dir) / "tokenizer.json"))
    tokenizer.no_truncation()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def unbroken(kind: str, n: int) -> str:
    """n characters of one unbroken line: Chinese without punctuation, minified JSON, or a base64 image."""
    rng = random.Random(n)
    if kind == "cjk":
        return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))
    if kind == "json":
        return ",".join(f'{{"id":{rng.randint(0, 10**6)},"v":"x{rng.randint(0, 999)}"}}' for _ in range(n // 20))[:n]
    import base64

    return ("![a](data:image/png;base64," + base64.b64encode(rng.randbytes(n)).decode())[:n]


@pytest.mark.parametrize("kind", ["cjk", "json", "base64"])
def test_long_unbroken_line_is_cut_within_the_limit_in_linear_work(kind, e5_count_tokens) -> None:
    counted: list[int] = []  # the length of every text handed to the tokenizer

    def counter(text: str) -> int:
        counted.append(len(text))
        return e5_count_tokens(text)

    chunker = Chunker(counter, max_tokens=128, overlap_tokens=16)
    chunk_counts, work = [], []
    for n in (5_000, 20_000):
        counted.clear()
        doc = make_doc(unbroken(kind, n))
        chunks = chunker.split(doc)
        work.append(sum(counted))
        chunk_counts.append(len(chunks))
        check_invariants(doc, chunks, chunker, e5_count_tokens)
        # Cut pieces are full: each within 2% of the limit but the last.
        assert all(e5_count_tokens(c.text) >= 0.98 * 128 - 2 for c in chunks[:-1])
    # Four times the text: four times the chunks, and about four times the characters tokenized (a quadratic
    # cut re-counting the rest of the line would tokenize about sixteen times as many).
    assert 3.8 <= chunk_counts[1] / chunk_counts[0] <= 4.2, chunk_counts
    assert work[1] / work[0] < 5, work
    assert work[1] < 12 * 20_000, work  # a few counts of about a chunk per cut


def test_megabyte_line_with_the_real_tokenizer(e5_count_tokens) -> None:
    """1 MB of unbroken Chinese (quadratic chunking took minutes): chunks of at most the limit, covering it all."""
    text = unbroken("cjk", 1_000_000)
    chunker = Chunker(e5_count_tokens, max_tokens=256, overlap_tokens=48)
    chunks = chunker.split(make_doc(text))
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))  # unbroken text: no overlap, no gap
    assert max(e5_count_tokens(c.text) for c in chunks) <= 256
    assert len(chunks) > 1_000_000 / 512  # random Han characters: about 2 per token at most


def test_split_stops_past_the_limit() -> None:
    text = "\n\n".join(f"# 第{i}節\n\n" + "這是一段關於晶片的文字。" * 30 for i in range(200))
    chunker = Chunker(count_tokens, max_tokens=64, overlap_tokens=8)
    whole = chunker.split(make_doc(text))
    capped = chunker.split(make_doc(text), limit=10)
    assert 10 < len(capped) < len(whole) / 4
    assert [c.text for c in capped] == [c.text for c in whole[: len(capped)]]
