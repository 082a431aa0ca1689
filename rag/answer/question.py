"""A question analysed once: the text an answer is asked for, its language, its words and their weights, what it is
about (names, numbers, years), the kind of fact it asks for and the questions it holds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer.rules import without_source
from rag.text import keyword_tokens, matching_form
from rag.text.script import HAN_RUN, mostly_han
from rag.text.terms import QUESTION_WORDS, han_bigrams

# English numbers written as words ("twelve hours", "a dozen", "three million").
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
    r"trillion|dozen|half|several|a few|a couple of"
)
# What kind of answer a question asks for, and how a sentence shows it has one (extractive QA's answer types).
_ASKS_TIME = re.compile(
    r"什么时候|什麼時候|何时|何時|哪一年|哪年|几月|幾月|哪天|多久|\bwhen\b|what year|what date|how long", re.IGNORECASE
)
_ASKS_AMOUNT = re.compile(
    r"多少|幾[個台家種次倍年歲%％]|几[个台家种次倍年岁%％]|多大|多快|\bhow (much|many|fast|big|large)\b", re.IGNORECASE
)
_HAS_TIME = re.compile(
    r"\d{4}|\d{1,2}\s*[月日號号]|[一二三四五六七八九十〇零兩两]+\s*[年月日]|[今明去前后後]年|[今明昨前后後]天|年[中底初]|[上下]半年|"
    r"[上下本这這][個个]?(月|週|周|星期|季)|季度|最近|近期|目前|即將|即将|不久|之後|之后|以後|以后|\d+\s*(年|天|週|周|個月|个月|小時|小时|分鐘|分钟)|"
    # Eras and periods: 「300-50万年前的上新世晚期」, 「13世紀」, 「嘉慶年間」, 「明朝初期」.
    r"[万萬億亿]年|年前|世[紀纪]|年代|年間|年间|時期|时期|[初中末晚早]期|"
    r"Q[1-4]\b|\b(19|20)\d\d\b|\b(next|this|last|coming) (year|month|quarter|week)\b|\b(january|february|march|april|"
    r"may|june|july|august|september|october|november|december|today|tomorrow|yesterday|recently|soon|ago|later|"
    r"currently|now|centur(y|ies)|era|period|dynasty|reign)\b|\b\d+ (years?|months?|days?|weeks?|hours?|minutes?)\b|\b\d+s\b|"
    rf"\b({_NUMBER_WORDS}|an?) (decades?|years?|months?|weeks?|days?|hours?|minutes?)\b",
    re.IGNORECASE,
)
_HAS_AMOUNT = re.compile(
    rf"\d|[一二兩两三四五六七八九十百千萬万億亿]+\s*[倍個个台家種种次年%％美元億亿萬万]|\b({_NUMBER_WORDS})\b",
    re.IGNORECASE,
)
# A question asking how much money (a price, a cost, a salary) is answered by a sentence naming a sum of money, not by
# any number: "How much does the X200 cost?" is not answered by "It weighs 450 grams".
_ASKS_MONEY = re.compile(
    r"(多少|幾|几|how much|what).{0,12}?(錢|钱|價|价|費|费|薪|成本|售|\bcosts?\b|\bprices?\b|\bpaid\b|\bpay\b|\bsalar|\bcharge|\bfees?\b)"
    r"|(錢|钱|價格|价格|售價|售价|費用|费用|薪水|薪資|薪资|成本|\bcosts?\b|\bprices?\b|\bsalar(y|ies)\b|\bfees?\b).{0,12}?(多少|幾|几)"
    r"|\bhow much (does|did|do|will|would|is|was)\b.{0,60}\b(cost|charge|pay|sell for|earn)\b",
    re.IGNORECASE,
)
_HAS_MONEY = re.compile(
    r"[$€£¥₩]|美元|美金|(?<![单單])元|圓|円|港幣|港币|台幣|台币|人民幣|人民币|英鎊|英镑|歐元|欧元|韓元|韩元|[塊块][錢钱]|法郎|盧布|卢布|"
    r"免費|免费|圜|\b(dollars?|euros?|pounds?|yen|yuan|rupees?|francs?|usd|eur|gbp|rmb|cents?|free)\b|\d+\s*[kKmMbB]\b|"
    # A large sum with no currency the list above knows (355 billion won, 3億韓圜) still reads as a sum of money.
    r"\d[\d.,]*\s*(?:(?:billion|million|trillion|thousand|bn)\s*)?(won|baht|pesos?|rand|lira|krona|kronor|krone|dinars?|"
    r"dirhams?|riyals?|ringgit|rupiah|zloty|forints?|rubles?|roubles?)\b|"
    # ... unless a counter follows: 800億個電晶體, "80 billion transistors" are counts.
    r"\d[\d.,]*\s*(billion|million|trillion|bn)\b(?!\s+[A-Za-z])|\d[\d.,]*\s*[萬万億亿](?![個个人名座顆颗台件輛辆架種种次倍年天隻只])",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Dates are not amounts: 「台積電於2020年宣布」 does not answer "how much". A four-digit year (bare, or with 年) and a
# month or day are removed before looking for an amount; a year-like number followed by a unit stays an amount.
_UNIT = r"[%％億亿萬万元美人個个家台倍名座種种次件輛辆架顆颗]|\s*(?:dollars?|people|units?|km|kg|tons?|percent)\b"
_DATE = re.compile(
    rf"(?<![\d.,])(?:1[6-9]|20)\d\d(?:\s*[-–/]\s*(?:1[6-9]|20)?\d\d)?\s*年(?:\s*\d{{1,2}}\s*月)?(?:\s*\d{{1,2}}\s*[日號号])?"
    r"|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日號号])?|\d{1,2}\s*[日號号](?![元本])"
    rf"|(?<![\d.,$])\b(?:1[6-9]|20)\d\d(?:s|\b)(?![.,]\d)(?!{_UNIT})",
    re.IGNORECASE,
)


def answer_type(question: str) -> re.Pattern | None:
    """The pattern a sentence answering `question` must show: a time for "when", a number for "how much"."""
    if _ASKS_TIME.search(question):
        return _HAS_TIME
    if _ASKS_AMOUNT.search(question):
        return _HAS_AMOUNT
    return None


def asks_time(pattern: re.Pattern | None) -> bool:
    """The answer type (answer_type) is a time: a "when" question."""
    return pattern is _HAS_TIME


def has_money(sentence: str) -> bool:
    """The sentence names a sum of money (a price, a cost, a salary), not only a number."""
    return bool(_HAS_MONEY.search(sentence))


def shows_answer_type(pattern: re.Pattern, sentence: str, question: str) -> bool:
    """The sentence has the asked-for kind of fact, not only numbers the question itself gives."""
    asked = set(_NUMBER.findall(question))
    if pattern is _HAS_AMOUNT:
        sentence = _DATE.sub(" ", sentence)
    return bool(pattern.search(_NUMBER.sub(lambda m: "" if m.group(0) in asked else m.group(0), sentence)))


# ---------------------------------------------------------------- what the question is about

_ASKS_PERSON = re.compile(r"谁|誰|哪位|\bwho(m|se)?\b", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")  # a focus item in Latin letters, as focus_groups lowercases it
# A name or model in Latin letters: capitalised or with a digit (NVIDIA, H100, GPT-4, Gemini).
# Bounded by non-Latin characters, not \b: Han characters count as word characters (輝達的H100).
_LATIN_NAME = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z][A-Za-z0-9\-]*|[A-Za-z]+\d[A-Za-z0-9\-]*)(?![A-Za-z0-9])")
_ACRONYM_PLURAL = re.compile(r"(?:[A-Z]{2,}|[A-Za-z]+\d+[A-Za-z0-9]*)s")
# A question's sentences, each with its end mark (「TPU能否取代GPU？為什麼？」 asks two).
_QUESTION_PART = re.compile(r"[^?？!！。;；]+[?？!！。;；]*")
# A number on its own, not the digits of a model name (H100).
_FOCUS_NUMBER = re.compile(r"(?<![A-Za-z0-9.,])\d+(?:[.,]\d+)*")
_SENTENCE_START_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "the",
        "a",
        "an",
        "in",
        "on",
        "of",
    ]
)
# Focus items spelled alike in every language and script: a year, and a model or version name (B200, GPT-4, SR99).
_YEAR = re.compile(r"1\d{3}|20\d\d")
_DECADE = re.compile(r"(1\d{3}|20\d\d)(?:'?s\b|\s*年代)")
_MODEL_NAME = re.compile(r"[a-z][a-z\-]*\d[a-z0-9\-]*|[a-z][a-z0-9\-]*[a-z]\d+")
# ... but not a quarter, half or fiscal year (Q3, H1, FY2024): Chinese writes them in words (第三季, 上半年, 2024財年).
_PERIOD_NAME = re.compile(r"[qh][1-4]|fy-?\d+")


def focus_groups(question: str, glossary=None) -> list[list[str]]:
    """The question's numbers and names, each with its other spellings (輝達 / nvidia / 英伟达), lowercased
    Simplified: what an answer must be about (another model version, year or company is a near miss)."""
    groups = [[n] for n in _FOCUS_NUMBER.findall(question)]
    for name in _LATIN_NAME.findall(question):
        if name.lower() not in _SENTENCE_START_WORDS:
            aliases = glossary.en_names.get(name.lower(), [])[:3] if glossary is not None else []
            # An acronym's plural (TPUs, GPUs, H100s) is about the thing the passages write in the singular (TPU).
            singular = [name[:-1].lower()] if _ACRONYM_PLURAL.fullmatch(name) else []
            groups.append([name.lower(), *singular, *aliases])
    if glossary is not None:
        for run in HAN_RUN.findall(matching_form(question)):
            for word in glossary.words(run):
                if word in glossary.names:
                    english = glossary.names[word]
                    groups.append([word, english.lower(), *glossary.en_names.get(english.lower(), [])[:3]])
    return [list(dict.fromkeys(g)) for g in groups]


def _asked_years(groups: list[list[str]], question: str) -> list[list[str]]:
    """The focus groups that are years the question asks about; a decade is not one: Chinese writes "the 1970s" as
    「20世纪70年代」."""
    decades = set(_DECADE.findall(question))
    return [g for g in groups if _YEAR.fullmatch(g[0]) and g[0] not in decades]


def question_parts(question: str) -> list[str]:
    """Each question `question` asks (a part ending in a question mark, and the last), letters and digits only
    (lowercased Simplified): a sentence holding one asks it back (「大家爭論不休的「究竟TPU能否取代GPU」」 for
    「TPU能否取代GPU？為什麼？」). Not a part that sets up context, which the answering sentence often repeats
    (「…她居然答應了！」此話為何人所言?)."""
    parts = _QUESTION_PART.findall(question)
    return [
        core
        for i, part in enumerate(parts)
        if (i == len(parts) - 1 or part.rstrip()[-1] in "?？") and len(core := letters_and_digits(part)) >= 4
    ]


def letters_and_digits(text: str) -> str:
    """`text` in its matching form (Simplified, lowercased), letters and digits only: a question quoted in a sentence
    is found in this form."""
    return "".join(ch for ch in matching_form(text).lower() if ch.isalnum())


def question_bigrams(question: str, keywords) -> dict[str, float]:
    """The question's Han character bigrams (Simplified, question words left out) with their BM25 idf: they
    match a paraphrase that jieba cuts differently (成立於哪一年 / 於1990年成立)."""
    core = QUESTION_WORDS.sub(" ", matching_form(question))
    return {b: keywords.idf(b) for b in set(han_bigrams(core, simplified=True)) if len(b) == 2}


@dataclass(eq=False)
class Question:
    """What answering reads of a question, computed once (analyse). The idf-weighted fields are None when it was
    analysed without the notebook's keyword index (the refusal rules on names and years do not need them)."""

    text: str  # as the answer reads it: without the words naming the document it asks about (rules.without_source)
    chinese: bool  # mostly Han (rag.text.script.mostly_han): picks the gate's cut and which sentences are "other"
    focus: list[list[str]]  # numbers and names, each with its other spellings (focus_groups)
    years: list[list[str]]  # the focus groups that are years it asks about
    versions: list[list[str]]  # its years and model or version names: spelled alike in every language
    latin_names: dict[str, str]  # names in Latin letters, lowercased -> as written
    answer_type: re.Pattern | None  # the kind of fact it asks for (answer_type)
    asks_money: bool  # a price, a cost, a salary: answered by a sum of money, not any number
    asks_person: bool
    parts: list[str]  # the questions it asks, letters and digits only (question_parts)
    terms: list[str]  # its keyword tokens as a query reads them
    asked: frozenset[str]  # every keyword token it writes (as a query and as text)
    own: dict[str, float] | None = None  # its terms -> BM25 idf
    other: dict[str, float] | None = None  # its words in the other language and its names' other spellings -> idf
    bigrams: dict[str, float] | None = None  # its Han bigrams -> idf (question_bigrams)

    def shows_answer_type(self, sentence: str) -> bool:
        """The sentence has the kind of fact the question asks for (False when it asks for no kind)."""
        return self.answer_type is not None and shows_answer_type(self.answer_type, sentence, self.text)

    def is_latin_name(self, item: str, glossary=None) -> bool:
        """A focus item that is a name written in Latin letters: an acronym or model (CEO, TSMC, H100), or a
        capitalised word that is not an ordinary English word (Groq, Blackwell); "Corporation" in "Oracle
        Corporation" is not."""
        if not _LATIN_WORD.fullmatch(item) or item.isdigit():
            return False
        written = next((n for n in _LATIN_NAME.findall(self.text) if n.lower() == item), item)
        if written.isupper() or any(ch.isdigit() for ch in written) or glossary is None:
            return True
        return item in glossary.en_names or item not in glossary.en_zh


def analyse(question: str, titles=(), glossary=None, keywords=None) -> Question:
    """The Question as answering reads it over passages with these `titles` (the words naming one of them as the
    source are left out); `glossary` gives the other language's words and names' spellings, `keywords` (the
    notebook's BM25 index) the weights."""
    text = without_source(question, list(titles))
    focus = focus_groups(text, glossary)
    years = _asked_years(focus, text)
    terms = keyword_tokens(text, for_query=True)
    q = Question(
        text=text,
        chinese=mostly_han(text),
        focus=focus,
        years=years,
        versions=[g for g in focus if g in years or (_MODEL_NAME.fullmatch(g[0]) and not _PERIOD_NAME.fullmatch(g[0]))],
        latin_names={n.lower(): n for n in _LATIN_NAME.findall(text)},
        answer_type=answer_type(text),
        asks_money=bool(_ASKS_MONEY.search(text)),
        asks_person=bool(_ASKS_PERSON.search(text)),
        parts=question_parts(text),
        terms=terms,
        asked=frozenset(terms) | frozenset(keyword_tokens(text)),
    )
    if keywords is not None:
        other_terms: list[str] = []
        if glossary is not None:
            other_terms = glossary.other_language_terms(text, keywords.knows) + glossary.name_terms(text)
        q.own = {t: keywords.idf(t) for t in set(terms)}
        q.other = {t: keywords.idf(t) for t in set(other_terms)}
        q.bigrams = question_bigrams(text, keywords)
    return q
