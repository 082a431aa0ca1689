"""Which language and Chinese script a text is written in, and character-only conversion between the scripts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import opencc

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
HAN_RUN = re.compile(HAN.pattern + "+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-']*")

# Grammar words tell the language of a sentence; names do not (「NVIDIA GPU 的市佔率」 is a Chinese question,
# "Who founded 台積電?" an English one). Chinese function characters in both scripts; English function words.
CHINESE_FUNCTION_CHARS = frozenset(
    "的了是在和與与及或也都就而但又很嗎吗呢吧啊著着過过把被讓让給给這这那之其於于對对從从到沒没會会能什麼么怎哪誰谁幾几否"
)
ENGLISH_FUNCTION_WORDS = frozenset(
    """a an the of to in on at for by with from and or but is are was were be been being it its this that these those
    what which who whom whose how why when where do does did can could would should will shall may might about as into
    than then so such not no yes if i you he she we they me him her us them my your our their his hers itself himself has have had much many
    herself themselves""".split()  # noqa: SIM905 (a word list reads best as text)
)

CHINESE_SCRIPTS = ("zh-Hant", "zh-Hans")


@cache
def converter(config: str) -> opencc.OpenCC:
    """The OpenCC converter for a config name (t2s, s2tw, tw2sp ...), built once."""
    return opencc.OpenCC(config)


def han_share(text: str) -> float:
    """Share of Han characters among the letters of `text` (a Latin word counts as one letter)."""
    han = len(HAN.findall(text))
    latin = len(LATIN_WORD.findall(text))
    return han / (han + latin) if han + latin else 0.0


def is_chinese(text: str) -> bool:
    """The one rule for "is this text Chinese?" (questions, sentences, passages).

    Chinese when it holds Han characters and its Chinese function characters (的, 和, 嗎 ...) outnumber its
    English function words (the, of, what ...). When they tie (often: none of either, "台積電 3奈米 良率"), it is
    Chinese when more than half of its letters are Han (a Latin word counting as one letter). So names and
    acronyms in Latin letters never make a Chinese question English (「OpenAI 和 Microsoft 的合約」), and a
    Chinese name never makes an English question Chinese ("Who founded 台積電?").
    """
    han = HAN.findall(text)
    if not han:
        return False
    chinese_grammar = sum(ch in CHINESE_FUNCTION_CHARS for ch in han)
    english_grammar = sum(_is_english_function_word(w) for w in LATIN_WORD.findall(text))
    if chinese_grammar != english_grammar:
        return chinese_grammar > english_grammar
    return han_share(text) > 0.5


def mostly_han(text: str) -> bool:
    """More than half the letters of `text` are Han (a Latin word counting as one letter).

    Not is_chinese: the answer model's features and its gate's cuts were fitted reading a question's language this
    way (「TPU能否取代GPU?」 and "Who founded 台積電?" alike count as Chinese here: 0.6 of its letters are Han), and
    a short sentence's grammar words are too few to tell; refit the model (bench/train_answer_model.py) before
    moving them to is_chinese."""
    return han_share(text) > 0.5


# A sentence between this share of Han (a Latin word counting as one letter) and half mixes both languages; it
# reads as its passage does: in a Chinese passage, Chinese naming things in Latin letters.
MIXED_HAN_SHARE = 0.25


def reads_as_chinese(sentence: str, passage: str = "") -> bool:
    """A sentence (of `passage`) is Chinese: more than half its letters are Han, or it mixes both in a Chinese
    passage (mostly_han).

    Read alone, 「創立於1920年，前身為Indiana University School of Commerce and Finance。」 (half Han) counted as
    English for a Chinese question, and the scorer's allowance for sentences in the other language (lower
    similarities, words matched only through the glossary) put it first: over DRCD's and CMRC's held-out questions
    with their gold passage removed, such sentences were quoted with gate probabilities 0.51-0.89. Their grammar
    words do not settle it either (is_chinese): 「He commissioned sketches of churches in England, ，于1893年出资…」
    has more English ones, and read as English it was quoted at 0.97-0.99 for questions on other churches."""
    share = han_share(sentence)
    if passage and MIXED_HAN_SHARE <= share <= 0.5:
        return mostly_han(passage)
    return share > 0.5


def _is_english_function_word(word: str) -> bool:
    # An all-capitals word is a name or an acronym (IT, US, AN), not the function word it spells.
    return word.lower() in ENGLISH_FUNCTION_WORDS and not (len(word) > 1 and word.isupper())


@lru_cache(maxsize=1)
def _traditional_forms() -> dict[str, tuple[str, ...]]:
    """Simplified character -> its Traditional forms, from OpenCC's own character table (台 -> 臺 檯 颱 台)."""
    table = Path(opencc.__file__).parent / "dictionary" / "STCharacters.txt"
    forms = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        simplified, _, traditional = line.partition("\t")
        forms[simplified] = tuple(traditional.split())
    return forms


@lru_cache(maxsize=20_000)
def _traditional_only(ch: str) -> bool:
    """A character that Simplified writes otherwise (為, 麼, 發)."""
    return converter("t2s").convert(ch) != ch


@lru_cache(maxsize=20_000)
def _simplified_only(ch: str) -> bool:
    """A character only Simplified writes (为, 么, 发, 着): not one that is also a Traditional form of itself
    (台, 了, 里, 后, 只: written in Taiwan too, so they tell nothing about the script)."""
    if _traditional_only(ch):
        return False
    forms = _traditional_forms().get(ch)
    if forms is not None:
        return ch not in forms
    return converter("s2tw").convert(ch) != ch  # Taiwan variants: 着 -> 著


def _script_specific(text: str) -> tuple[int, int]:
    """(characters only Traditional writes, characters only Simplified writes) in `text`, one by one: a
    phrase table run over the whole text would count 證明了 as Simplified (its 明了 → 明瞭)."""
    han = HAN.findall(text)
    return sum(map(_traditional_only, han)), sum(map(_simplified_only, han))


def detect_script(text: str, fallback: str = "zh-Hant") -> str:
    """'en', 'zh-Hant' or 'zh-Hans'.

    Chinese written only in characters common to both scripts (「台北的人口是多少」) takes `fallback`: the caller
    passes the script of the conversation so far (conversation_script), else the user's chosen default
    (settings.default_script).
    """
    if not is_chinese(text):
        return "en"
    return _written_script(text) or (fallback if fallback in CHINESE_SCRIPTS else "zh-Hant")


def _written_script(text: str) -> str | None:
    """'zh-Hant' or 'zh-Hans' when the characters of `text` tell, else None."""
    traditional_only, simplified_only = _script_specific(text)
    if traditional_only > simplified_only:
        return "zh-Hant"
    if simplified_only > traditional_only:
        return "zh-Hans"
    return None


def conversation_script(turns: Iterable[str], default: str) -> str:
    """The Chinese script the conversation so far is written in (its latest turn whose characters tell; `turns`
    oldest first), else `default`: what detect_script falls back on for a question in shared characters."""
    for text in reversed(list(turns)):
        script = _written_script(text) if is_chinese(text) else None
        if script:
            return script
    return default


def in_script(text: str, script: str) -> bool:
    """True when `text` is already written in `script` and is shown as it is: it has none of the other script's
    characters, or fewer than of its own (a Traditional sentence with the odd variant 檐 or 泄, which OpenCC
    counts as Simplified, is Traditional). English and text without Han characters are in every script."""
    if script not in CHINESE_SCRIPTS or not HAN.search(text):
        return True
    traditional_only, simplified_only = _script_specific(text)
    own, other = (traditional_only, simplified_only) if script == "zh-Hant" else (simplified_only, traditional_only)
    return other == 0 or own > other


def simplified_chars(text: str) -> str:
    """Traditional characters → Simplified ones, nothing else: OpenCC tw2s (為什麼 → 为什么, 看著 → 看着, 著名 stays,
    程序 stays 程序, 軟體 → 软体 not 软件), whose tables only choose among a character's forms in context.

    Characters that exist only in Simplified stay as written: tw2s's Taiwan-variant table would turn an already
    Simplified 么 into 幺 (为什么 → 为什幺)."""
    if not HAN.search(text):
        return text
    converted = converter("tw2s").convert(text)
    if len(converted) != len(text):  # character tables map one to one; keep the whole conversion if not
        return converted
    return "".join(o if _simplified_only(o) else c for o, c in zip(text, converted))


# Characters kept as written when Traditional is shown: OpenCC's s2t writes 臺 for every 台, though Taiwan's own
# usage keeps 台 (台灣, 台北, 平台), and its phrase table turns 證明了 into 證明瞭.
_KEPT_AS_WRITTEN = frozenset("台了")


def traditional_chars(text: str) -> str:
    """Simplified characters → Traditional ones in Taiwan's standard forms, nothing else: OpenCC s2tw (为什么 →
    為什麼, 看着 → 看著, 头发 → 頭髮, 项目 → 項目 never 專案; s2twp would also swap 支持 → 支援, 类型 → 型別).

    Traditional characters already there stay as written (models drift between scripts within a sentence, and
    s2t's phrase table turns 證明了 into 證明瞭), and so does 台, which Taiwan writes as is (台灣, 台北)."""
    if not HAN.search(text):
        return text
    converted = converter("s2tw").convert(text)
    if len(converted) != len(text):
        return converted
    return "".join(o if _traditional_only(o) or o in _KEPT_AS_WRITTEN else c for o, c in zip(text, converted))


def to_script(text: str, script: str) -> str:
    """`text` shown in `script` ('zh-Hant', 'zh-Hans'; 'en' leaves it): characters only, the document's words kept.

    Text already in the script (no character of the other one) is returned untouched."""
    if in_script(text, script):
        return text
    return simplified_chars(text) if script == "zh-Hans" else traditional_chars(text)
