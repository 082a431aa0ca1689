"""Keyword terms for BM25 and the glossary: the matching form of a text, jieba words, stop words, Han bigrams."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text.script import ENGLISH_FUNCTION_WORDS, HAN, converter

_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Zero-width and direction-control characters (U+200B-U+200F, U+202A-U+202E, U+2060-U+2064, U+FEFF): invisible,
# yet one inside a word splits it into two keywords (Iron\u200bwood), and overrides show text in another order.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Half a UTF-16 pair, never a character: Python strings can hold one, tokenizers and encoders refuse it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Function words that carry no topic in either language; kept short on purpose (BM25's idf does the rest).
CHINESE_STOP_WORDS = frozenset(
    """的 了 是 在 和 与 及 或 也 都 就 而 但 又 很 吗 呢 吧 啊 着 过 把 被 让 给 这 那 这个 那个 这些 那些 一个 什么 怎么
    如何 为什么 哪 哪些 多少 几 有 没有 会 能 能否 可以 吗 之 其 于 对 从 向 到 说 我 你 他 她 它 我们 你们 他们 呢 吗""".split()  # noqa: SIM905 (a word list reads best as text)
)
STOP_WORDS = CHINESE_STOP_WORDS | ENGLISH_FUNCTION_WORDS
# Chinese question words (Simplified): their characters say what is asked, not what the answer is about.
QUESTION_WORDS = re.compile(
    r"为什么|怎么样|怎么|怎样|如何|什么|哪里|哪儿|哪个|哪些|哪一|哪|谁|多少|几|何时|何地|何人|为何|是否|是不是|吗|呢|请问"
)


def strip_invisible(text: str) -> str:
    """The text without zero-width and direction-control characters (documents lose them before chunking)."""
    return _INVISIBLE.sub("", text)


def clean_text(text: str) -> str:
    """A question as the notebook reads it: no invisible characters, no lone surrogates (which no encoder takes)."""
    return _LONE_SURROGATE.sub("", strip_invisible(text))


# OpenCC's Taiwan table reads 么 as a variant of 幺 (tiny), so an already Simplified 什么 came out as 什幺, which
# neither QUESTION_WORDS nor the stop words know: a Simplified question kept 什幺 as its rarest keyword, where the
# same question in Traditional (什麼) dropped it. Read as 麼, whose Simplified form it is, it stays 么.
_ME_AS_TRADITIONAL = str.maketrans("么", "麼")


def matching_form(text: str) -> str:
    """The form keyword matching compares texts in: Simplified, Taiwan vocabulary in Mainland words (軟體 → 软件).

    For matching only (BM25 terms, glossary look-ups, gold-answer checks), never for showing text: its
    phrase substitution rewrites words (程序 → 进程); quotes shown to the user go through rag.text.script.to_script."""
    text = strip_invisible(text)
    # OpenCC (pure Python) costs ~3 ms per chunk even when there is nothing to convert.
    return converter("tw2sp").convert(text.translate(_ME_AS_TRADITIONAL)) if HAN.search(text) else text


def _jieba():
    import jieba

    jieba.setLogLevel(60)  # silence the "Building prefix dict" banner on every start
    return jieba


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # The pure-Python stemmer was half of the indexing time outside embedding; words repeat a lot.
    return _stemmer().stemWord(word)


_ASCII_WORD = re.compile(r"^[a-z]+$")


def keyword_tokens(text: str, for_query: bool = False) -> list[str]:
    """BM25 terms: Simplified, lowercased jieba words (English ones stemmed: overfits ~ overfitting)
    without punctuation and stop words.

    Documents use jieba's search mode (adds the sub-words of long compounds) so that a precise-mode
    query word matches either the compound or its parts.
    """
    return _tokens(matching_form(text).lower(), for_query)


def tokens_of_matching_form(normalised: str, for_query: bool = False) -> list[str]:
    """keyword_tokens of a text already in matching_form and lowercased: one OpenCC pass serves several uses."""
    return _tokens(normalised, for_query)


def _tokens(normalised: str, for_query: bool) -> list[str]:
    jieba = _jieba()
    words = jieba.lcut(normalised) if for_query else jieba.lcut_for_search(normalised)
    kept = [w for w in (w.strip() for w in words) if w and _TOKEN_OK.search(w) and w not in STOP_WORDS]
    return [_stem(w) if _ASCII_WORD.match(w) else w for w in kept]


def written_words(text: str) -> list[str]:
    """jieba's words of a text as it writes them (a Traditional text is segmented in Simplified, which jieba's
    dictionary is, then cut where its Simplified form was)."""
    from rag.text.script import converter

    simplified = converter("t2s").convert(text)
    if len(simplified) != len(text):  # t2s maps character to character; should it not, segment as written
        return _jieba().lcut(text)
    words, at = [], 0
    for w in _jieba().lcut(simplified):
        words.append(text[at : at + len(w)])
        at += len(w)
    return words


# Consecutive Han characters (the CJK Unified blocks), the unit character bigrams are taken from.
_HAN_CHARACTERS_RUN = re.compile(r"[\u3400-\u9fff]+")


def han_bigrams(text: str, simplified: bool = False) -> list[str]:
    """Overlapping character pairs of each run of Han characters (Simplified); a lone character stays."""
    out: list[str] = []
    for run in _HAN_CHARACTERS_RUN.findall(text if simplified else matching_form(text)):
        out += [run[i : i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]
    return out


def bm25_terms(text: str, for_query: bool = False) -> list[str]:
    """What BM25 indexes and matches: keyword_tokens plus Han character bigrams, which catch the words
    jieba segments differently in the question and the passage (DRCD sample200 R@1 0.915 -> 0.95)."""
    normalised = matching_form(text).lower()
    return _tokens(normalised, for_query) + han_bigrams(normalised, simplified=True)


# Fewer letters and digits than this and the input asks nothing (empty, punctuation, emoji, one character).
QUESTION_MIN_CHARACTERS = 2


def asks_nothing(text: str, follow_up: bool = False) -> bool:
    """The input is no question: fewer than QUESTION_MIN_CHARACTERS letters or digits, or (when it does not follow
    a conversation, which may say what "it" is) only question and function words ("what?", 「為什麼？」)."""
    said = sum(ch.isalnum() for ch in clean_text(text))
    return said < QUESTION_MIN_CHARACTERS or (not follow_up and not keyword_tokens(text, for_query=True))
