"""Bilingual text facts, each defined once: script (language, Chinese script, conversion), terms (keyword
matching), sentences (where a sentence ends), glossary (CC-CEDICT: a question's words in the other language).

The public names are re-exported, so `from rag.text import detect_script` works; the glossary, which loads a
dictionary, is imported from rag.text.glossary.
"""

from rag.text.script import (
    conversation_script,
    converter,
    detect_script,
    han_share,
    in_script,
    is_chinese,
    simplified_chars,
    to_script,
    traditional_chars,
)
from rag.text.sentences import sentence_cuts, sentence_spans
from rag.text.terms import (
    STOP_WORDS,
    asks_nothing,
    bm25_terms,
    clean_text,
    han_bigrams,
    keyword_tokens,
    matching_form,
    strip_invisible,
    written_words,
)

# The name callers used before the split, until they move to matching_form (the keyword-matching form).
to_simplified = matching_form

__all__ = [
    "STOP_WORDS",
    "asks_nothing",
    "bm25_terms",
    "clean_text",
    "conversation_script",
    "converter",
    "detect_script",
    "han_bigrams",
    "han_share",
    "in_script",
    "is_chinese",
    "keyword_tokens",
    "matching_form",
    "sentence_cuts",
    "sentence_spans",
    "simplified_chars",
    "strip_invisible",
    "to_script",
    "to_simplified",
    "traditional_chars",
    "written_words",
]
