"""Follow-up questions made standalone without an LLM: the last question's subject carried into one that lacks it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text import is_chinese, written_words
from rag.text.script import ENGLISH_FUNCTION_WORDS, HAN

# What a Chinese follow-up points back with. 其/該/他 only where they are no part of a word (其他, 應該, 尤其).
_ZH_POINTERS = re.compile(
    r"它們|它们|他們|他们|她們|她们|這些|这些|那些|這個|这个|那個|那个|這家|这家|這款|这款|這種|这种|這項|这项|這位|这位|此"
    r"|(?<![應应])該(?![死])|(?<![应])该|它|(?<![其])他(?!們|们)|她|(?<![尤極极])其(?![他它中實实餘余次])"
)
# English pointers; "that"/"this" only as a pronoun of their own ("Why is that?", "Is this true?").
_EN_POINTERS = re.compile(
    r"\b(it|its|they|them|their|theirs|he|him|his|she|her|these|those|(?:this|that)(?=\s*(?:[?.!,]|$|\s(?:is|was|does|do|did|mean|means|cost|costs|true|work|works|happen)\b)))\b",
    re.IGNORECASE,
)
_EN_POSSESSIVE = {"its", "their", "theirs", "his", "her"}
# Words that open a follow-up and say only "about the same thing": dropped when the subject is carried in.
_ZH_OPENERS = re.compile(r"^(那麼|那么|所以|另外|還有|还有|請問|请问|那|而|又)\s*")
_EN_OPENERS = re.compile(r"^(and|so|then|also|ok(?:ay)?|well)\b[\s,]*", re.IGNORECASE)
# 「那AMD呢?」, "What about AMD?": the same question of another subject.
_ZH_ABOUT = re.compile(r"^(?:那麼|那么|那|而|還有|还有)?\s*(?P<subject>[^?？。，,]{1,20}?)\s*呢\s*[?？]?\s*$")
_EN_ABOUT = re.compile(
    r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)\s*[?.]*\s*$|^and\s+(?P<subject2>.+?)\s*\?\s*$", re.IGNORECASE
)
# Where a Chinese question's topic ends: its first predicate or question word (a whole jieba word: 应用 is no 用).
_ZH_PREDICATES = frozenset(
    """能否 能不能 是否 是不是 有沒有 有没有 會不會 会不会 可不可以 為什麼 为什么 為何 为何 怎麼 怎么 怎麼樣 怎么样 如何 什麼 什么
    多少 哪 誰 谁 幾 几 是 有 會 会 可以 能 要 在 將 将 對 对 比 和 與 与 跟 被 把 從 从 用 靠 做 為 为 有什麼 有什么 取代 相比 何時
    何时 何在 何要 嗎 吗 呢""".split()  # noqa: SIM905 (a word list reads best as text)
)
# Time words that date the question, not its subject (「OpenAI現在的收入」 is OpenAI's).
_ZH_NOW = frozenset(["現在", "现在", "目前", "今年", "明年", "去年", "最近", "當前", "当前"])
# A follow-up that opens with one of these parts of speech (jieba's tags) has no subject of its own: 「花了多少錢?」.
_NO_SUBJECT_TAGS = ("v", "d", "p", "r", "m", "a", "b", "c", "u", "t", "f")
# Chinese question words: what a follow-up made only of them asks of the last question (「為什麼?」).
_ZH_ASKING = re.compile(
    r"為什麼|为什么|為何|为何|怎麼說|怎么说|怎麼樣|怎么样|怎麼|怎么|如何|什麼時候|什么时候|何時|何时|多少錢|多少钱|多少|真的嗎|真的吗|"
    r"是嗎|是吗|呢|嗎|吗|然後|然后|還有呢|还有呢|[?？!！。,，\s]"
)
_EN_ASKING = {
    "why", "how", "when", "where", "what", "who", "which", "really", "so", "and", "then", "is", "was", "does", "do",
    "did", "much", "many", "long", "come", "exactly", "more", "else", "details", "example", "examples", "for",
    "true", "sure", "tell", "me", "about", "the", "a", "an", "of", "what's", "why's", "how's", "not", "no", "yes", "ok",
}  # fmt: skip
# Attributes a follow-up asks about without saying of what: 「缺點是什麼?」 is TPU's drawbacks.
_ZH_ATTRIBUTES = re.compile(
    r"^(研究|文章|報告|报告|收入|缺點|缺点|優點|优点|價格|价格|價錢|价钱|售價|售价|成本|原因|影響|影响|好處|好处|壞處|坏处|風險|风险|優勢|优势|劣勢|劣势|市佔率|市占率|"
    r"營收|营收|用途|特點|特点|差別|差别|區別|区别|未來|未来|前景|問題|问题|挑戰|挑战|例子|功耗|效能|性能|速度|規格|规格|歷史|历史|"
    r"來源|来源|結果|结果|結論|结论|作者|創辦人|创办人|總部|总部|對手|对手|競爭對手|竞争对手|限制|瓶頸|瓶颈|毛利率|利潤|利润|產能|产能)"
)
_EN_LEAD = {
    "what", "which", "who", "whom", "how", "why", "when", "where", "can", "could", "does", "do", "did", "is", "are",
    "was", "were", "will", "would", "should", "has", "have", "had", "much", "many", "tell", "me", "about", "please",
    "explain", "describe", "the", "a", "an", "in", "of", "on", "for", "and", "so", "there",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z0-9][\w\-.']*[\w]|[A-Za-z0-9]")
_ENTITY = re.compile(r"[A-Za-z]*[A-Z0-9][\w\-.']*")  # a word with a capital or a digit: TPU, H100, Nvidia


def _entity(words: list[str], skip_first: bool) -> str:
    """The first run of capitalised or numbered words (Nvidia H100, Dylan Patel), '' when there is none."""
    run: list[str] = []
    for i, w in enumerate(words):
        named = bool(_ENTITY.fullmatch(w)) and not (i == 0 and skip_first and w.lower() in _EN_LEAD)
        if named:
            run.append(w)
        elif run:
            break
    return " ".join(run).rstrip(".'").removesuffix("'s")


def _owner(head: str) -> str:
    """「X的<attribute>」 -> X (the attribute is what follow-ups change: 「TPU的缺點」 -> TPU); else the head."""
    owner, _, attribute = head.rpartition("的")
    return owner if owner and _ZH_ATTRIBUTES.match(attribute) else head


def subject(question: str) -> str:
    """What a question is about, as it writes it: the words before its first predicate (「TPU能否取代GPU?」 ->
    TPU; 「Groq的LPU晶片有什麼特點?」 -> Groq的LPU晶片; the owner of an attribute: 「博通的前景如何?」 -> 博通), else its
    first name (Nvidia H100); '' when none is found."""
    q = question.strip()
    if is_chinese(q):
        words = written_words(_ZH_OPENERS.sub("", q))
        cut = next((i for i, w in enumerate(words) if w in _ZH_PREDICATES or w[:1] in "幾几哪"), len(words))
        head = _owner("".join(w for w in words[:cut] if w not in _ZH_NOW).strip(" ,，、:：「」\"'?？"))
        if len(HAN.findall(head)) >= 2 or (head and _ENTITY.search(head)):
            return head
        return _entity(_WORD.findall(q), skip_first=False)
    words = _WORD.findall(q)
    found = _entity(words, skip_first=True)
    if found:
        return found
    # No name: the first noun phrase after the question's opening words ("how profitable is memory?" -> memory).
    start = next((i for i, w in enumerate(words) if w.lower() not in _EN_LEAD), len(words))
    phrase: list[str] = []
    for w in words[start : start + 3]:
        if w.lower() in ENGLISH_FUNCTION_WORDS:
            break
        phrase.append(w)
    return " ".join(phrase)


def _own_subject_zh(question: str) -> bool:
    """A Chinese follow-up names what it asks about (「量子電腦是什麼?」), not only an attribute (「缺點是什麼?」) or a
    predicate (「花了多少錢?」)."""
    import jieba.posseg

    words = [w for w in jieba.posseg.lcut(question) if w.word.strip()]
    if not words:
        return False
    first = words[0]
    if _ZH_ATTRIBUTES.match(first.word):
        return False
    return first.flag == "eng" or not first.flag.startswith(_NO_SUBJECT_TAGS)


def _has_content(question: str) -> bool:
    """The question says something of its own beyond asking (「為什麼?」, "Why?", "How much?" do not)."""
    if is_chinese(question) or HAN.search(question):
        return bool(_ZH_ASKING.sub("", question).strip())
    return any(w.lower() not in _EN_ASKING for w in _WORD.findall(question))


def _possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _replace_pointer_en(question: str, name: str) -> str:
    def swap(m: re.Match) -> str:
        return _possessive(name) if m.group(1).lower() in _EN_POSSESSIVE else name

    return _EN_POINTERS.sub(swap, question, count=1)


def rewrite(question: str, previous: str) -> str:
    """`question` standalone after `previous` (itself standalone): its pointer (它, this, they) replaced by the
    previous question's subject; a question of only question words (「為什麼?」) asked of the previous one; 「那AMD呢?」
    the previous question of another subject; an attribute with no owner (「缺點是什麼?」) given the previous
    subject. Unchanged when it already stands alone or the previous question has no subject."""
    question = question.strip()
    previous = previous.strip()
    if not previous or not question:
        return question
    name = subject(previous)
    chinese = bool(HAN.search(question)) and is_chinese(question)
    if not _has_content(question):
        # 「為什麼?」 after 「TPU能否取代GPU?」: the previous question, then what is asked of it.
        body = previous.rstrip("?？。.! ")
        return f"{body}？{question}" if chinese or is_chinese(previous) else f"{body}? {question}"
    about = (_ZH_ABOUT if chinese else _EN_ABOUT).match(question)
    if about and name and name in previous:
        other = about.group("subject") or (about.groupdict().get("subject2") or "")
        other = _ZH_OPENERS.sub("", other).strip() if chinese else other.strip()
        if other and not (chinese and _ZH_POINTERS.search(other)) and not _EN_POINTERS.search(other):
            return previous.replace(name, other, 1)  # "What about AMD?" after "Why are Nvidia's margins so high?"
    if not name or name.lower() in question.lower():
        return question
    if chinese:
        bare = _ZH_OPENERS.sub("", question)
        pointer = _ZH_POINTERS.search(bare)
        if pointer:
            # 「它的缺點」: the owner's; 「這些CPU」 where the subject ends in CPU: the subject itself.
            rest = bare[pointer.end() :]
            owner = _owner(name) if rest.startswith("的") else name
            noun = next((w for w in written_words(rest)[:1] if w and w in name), "")
            joiner = "" if noun or not rest or rest.startswith("的") or len(pointer.group()) == 1 else "的"
            return bare[: pointer.start()] + owner + joiner + rest[len(noun) if noun and name.endswith(noun) else 0 :]
        if not _own_subject_zh(bare):
            joiner = "的" if _ZH_ATTRIBUTES.match(bare) else ""
            return f"{name}{joiner}{bare}"
        return question
    if _EN_POINTERS.search(question):
        return _replace_pointer_en(_EN_OPENERS.sub("", question), name)
    words = _WORD.findall(question)
    # "What are the drawbacks?": the drawbacks of the last subject. Not a question that names its own owner ("the
    # lens of the lamp", "the keeper's cat"): it stands alone.
    owned = re.search(r"\bof\b|\w's\b", question, re.IGNORECASE)
    if not owned and not _entity(words, skip_first=True) and re.search(r"\bthe\b", question, re.IGNORECASE):
        content = [w for w in words if w.lower() not in _EN_LEAD and w.lower() not in _EN_ASKING]
        if len(content) <= 3:
            stripped = _EN_OPENERS.sub("", question).rstrip("?. ")
            return f"{stripped[:1].upper()}{stripped[1:]} of {name}?"
    return question


def standalone_question(question: str, earlier_questions: Sequence[str]) -> str:
    """The question as it would be asked on its own after the conversation's earlier questions (oldest first):
    each earlier one made standalone in turn, so a subject carries across several follow-ups."""
    previous = ""
    for q in earlier_questions:
        previous = rewrite(q, previous) if previous else q.strip()
    return rewrite(question, previous) if previous else question
