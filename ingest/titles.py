"""A document's true title: its own metadata title when it is one, else the first Markdown heading, else a
headline-like line at the top (never site boilerplate such as "image source head" or "trendx logo"), else
the first sentence, else the file name."""

from __future__ import annotations

import re
import unicodedata

TITLE_MAX_CHARS = 120
# A title is at the top of the page: only this many non-blank lines are looked at for a headline.
HEAD_LINES = 6

_MD_HEADING_RE = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_DATE_LINE_RE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日\s*(星期.|週.|周.)?$")
_DATE_ONLY_RE = re.compile(r"^[\d\s./:年月日-]+$")
# Lines scraped pages carry around the article: image credits, logos, reposting notes, sharing and legal lines.
BOILERPLATE_RE = re.compile(
    r"image source|\blogo\b|reprinted (?:from|with)|\bcopyright\b|all rights reserved|advertisement|\bsponsored\b|"
    r"subscribe|sign (?:in|up)|\blog ?in\b|cookie|share (?:this|on)|click here|read more|skip to|^menu$|^home$|"
    r"^(?:photo|image|source|via|credit)s?\s*[:：]|"
    r"轉載|转载|來源[:：]|来源[:：]|版權|版权|廣告|广告|點擊|点击|訂閱|订阅|分享到|登入|登录|免責|免责|圖片|图片",
    re.IGNORECASE,
)
# Metadata titles that name nothing: a word processor's default, a file name, a placeholder.
_EMPTY_META_RE = re.compile(
    r"^(?:untitled|無標題|无标题|document\d*|slide \d+|title|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|pptx?|txt|html?|indd|tex|dvi))$",
    re.IGNORECASE,
)
_HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+")
_SENTENCE_INSIDE_RE = re.compile(r"[。！？!?]\S|[.;；]\s+\S")
_SENTENCE_RE = re.compile(r".+?(?:[。！？!?]|\.(?=\s|$))")
_LIST_OR_TABLE_RE = re.compile(r"^\s*(?:[-*+•·▪●|>]|\d{1,3}[.)、．]\s|https?://|www\.|<|!\[)")


def usable_title(title: str | None) -> str:
    """A metadata title cleaned up, or "" when it names nothing (Untitled, "Microsoft Word - x.docx", a file name)."""
    title = " ".join((title or "").split())
    if len(title) < 2 or _EMPTY_META_RE.match(title) or BOILERPLATE_RE.search(title):
        return ""
    return title[:TITLE_MAX_CHARS]


def _size(line: str) -> int:
    """How much a line says: its words, a Chinese character counting as half a word."""
    han = len(_HAN_RE.findall(line))
    return len(_WORD_RE.findall(_HAN_RE.sub(" ", line))) + han // 2


def _is_byline(lines: list[str], i: int) -> bool:
    """A "site - author" line followed by the author, or the author line after it: who wrote it, not what."""
    line = lines[i]
    after = lines[i + 1] if i + 1 < len(lines) else ""
    before = lines[i - 1] if i else ""
    return bool(after and after != line and after in line) or bool(before and line != before and line in before)


def _is_noise(lines: list[str], i: int) -> bool:
    line = lines[i]
    return (
        not any(ch.isalnum() for ch in line)
        or bool(BOILERPLATE_RE.search(line))
        or bool(_DATE_LINE_RE.match(line) or _DATE_ONLY_RE.match(line))
        or bool(_LIST_OR_TABLE_RE.match(line))
        or _is_byline(lines, i)
    )


def _is_body(line: str) -> bool:
    """A line of running text: long, or more than one sentence."""
    return len(line) > TITLE_MAX_CHARS or bool(_SENTENCE_INSIDE_RE.search(line.rstrip("。.!?！？")))


def _is_comment(line: str) -> bool:
    """A few words with an emoji ("Perfect answer sheet😄"): a reply or a caption, not a title."""
    return _size(line) <= 5 and any(unicodedata.category(ch) == "So" for ch in line)


def _is_headline(line: str) -> bool:
    return (
        len(line) <= TITLE_MAX_CHARS and not line.endswith((":", "：", ",", "，", ";", "；")) and not _is_comment(line)
    )


def guess_title(body: str, fallback: str) -> str:
    """The first Markdown heading; else a headline-like line among the first few (boilerplate, bylines, dates and
    emoji comments skipped) before the running text begins; else the first sentence of that text; else the first
    line with a letter or digit; else `fallback` (the file name)."""
    match = _MD_HEADING_RE.search(body)
    if match and match.group(1).strip():
        return match.group(1).strip()[:TITLE_MAX_CHARS]
    lines = [line.strip().lstrip("#").strip() for line in body.split("\n")]
    lines = [line for line in lines if line]
    for i, line in enumerate(lines[:HEAD_LINES]):
        if _is_noise(lines, i):
            continue
        if _is_body(line):
            break  # the article has begun: a title comes before it
        if _is_headline(line):
            return line
    for i, line in enumerate(lines[: HEAD_LINES * 4]):
        if not _is_noise(lines, i) and not _is_comment(line):
            sentence = _SENTENCE_RE.match(line)
            return (sentence.group(0) if sentence else line)[:TITLE_MAX_CHARS].strip()
    for line in lines:
        if any(ch.isalnum() for ch in line) and not _DATE_LINE_RE.match(line):  # skips "---", "***" and the like
            return line[:TITLE_MAX_CHARS]
    return fallback
