"""Where a sentence ends, in Chinese and English text: the one rule the chunker and the answerers share."""

from __future__ import annotations

import re

CJK_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"  # Han, CJK and full-width punctuation
CLOSERS = "」』”’\"'）)\\]】》〉"

# A candidate sentence end: Chinese 。！？ (with what closes a quote after it), ! or ? before a space, a line
# break, the end or Chinese text, a full stop before a space, a line break or the end, or right after Chinese
# text (but not a decimal point). is_sentence_end then drops the full stops of abbreviations and list markers.
SENTENCE_END = re.compile(
    rf"[。！？][。！？!?]*[{CLOSERS}]*[^\S\n]*"
    rf"|[!?]+[{CLOSERS}]*(?:[^\S\n]+|(?=\n)|$|(?=[{CJK_CHARS}]))"
    rf"|\.[{CLOSERS}]*(?:[^\S\n]+|(?=\n)|$)"
    rf"|(?<=[{CJK_CHARS}])\.(?![0-9])[^\S\n]*"
)
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs v e.g i.e cf fig figs no nos approx dept est inc ltd co corp jan feb "  # noqa: SIM905 (a word list reads best as text)
    "mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m ph.d feat ft vol".split()
)


def is_sentence_end(text: str, m: re.Match[str], abbreviations: frozenset[str] = ABBREVIATIONS) -> bool:
    """Whether a SENTENCE_END match in `text` really ends a sentence."""
    if text[m.start()] != ".":
        return True
    # "e.g. x", "Mr. Smith", "U.S. market", "J. Smith", "1. item", "approx. five" are not sentence ends.
    k = m.end()
    while k < len(text) and text[k] in " \t":
        k += 1
    if k < len(text) and text[k].isascii() and text[k].islower():
        return False
    before = text[max(0, m.start() - 24) : m.start()]
    word = re.search(r"[A-Za-z.]*$", before).group().lower()  # type: ignore[union-attr]
    if word in abbreviations or re.fullmatch(r"(?:[a-z]\.)*[a-z]", word):
        return False
    # A numbered list marker at the start of a line ("1. item") is not one either.
    marker = re.search(r"(?:^|\n)[ \t]*\d{1,3}$", text[max(0, m.start() - 8) : m.start()])
    return not (marker and (m.start() - 8 <= 0 or marker.group().startswith("\n")))


def sentence_cuts(text: str, abbreviations: frozenset[str] = ABBREVIATIONS) -> list[int]:
    """Offsets just after each sentence end in `text` (its closing punctuation and following spaces kept left)."""
    return [m.end() for m in SENTENCE_END.finditer(text) if is_sentence_end(text, m, abbreviations)]


_LINE_BREAKS = re.compile(r"\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, its closing punctuation kept, surrounding whitespace dropped.

    A line break also ends one: headings, list items and table rows are units of their own."""
    cuts = set(sentence_cuts(text)) | {m.end() for m in _LINE_BREAKS.finditer(text)}
    spans = []
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)]):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        a, b = a + lead, a + len(piece.rstrip())
        if b > a:
            spans.append((a, b))
    return spans
