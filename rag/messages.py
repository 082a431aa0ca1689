"""Every user-facing sentence the answerers say (refusals, LLM notices, install hints), in each script: one place
to read and change them. The LLM's own instructions are in rag/prompts.py."""

from __future__ import annotations

REFUSAL = {
    "zh-Hant": "文件中沒有找到相關內容。",
    "zh-Hans": "文件中没有找到相关内容。",
    "en": "The documents do not say.",
}

# Said instead when the passages are on the question's topic but none gives a time for a "when" question.
NO_TIME = {
    "zh-Hant": "文件中沒有提到具體時間。",
    "zh-Hans": "文件中没有提到具体时间。",
    "en": "The documents do not say when.",
}

# Said instead when the passages are on the question's topic but none gives a sum of money for a price question.
NO_MONEY = {
    "zh-Hant": "文件中沒有提到具體金額。",
    "zh-Hans": "文件中没有提到具体金额。",
    "en": "The documents do not give the amount.",
}

# Said when most of the question's words appear nowhere in the notebook, in either language: {words} are they.
NOT_IN_NOTEBOOK = {
    "zh-Hant": "文件中沒有提到{words}。",
    "zh-Hans": "文件中没有提到{words}。",
    "en": "The documents do not mention {words}.",
}

# Put before a quoted sentence written in the other language than the question (once per run of them), so an
# English reader knows the Chinese quote is the document's own words, and the reverse.
QUOTE_LANGUAGE = {
    "zh-Hant": "（英文）",
    "zh-Hans": "（英文）",
    "en": "(Chinese) ",
}

# A partial answer (Answer.status "partial"): the passages are about the question's subject but do not state what it
# asks; {what} is the question as asked. The closest passages follow, each quoted and cited, for the user to judge.
PARTIAL = {
    "zh-Hant": "文件沒有直接說明{what}；最接近的內容：",
    "zh-Hans": "文件没有直接说明{what}；最接近的内容：",
    "en": "The documents don't state {what} directly. Closest passages:",
}
# The same, for a "when" question whose closest passages give no time, and a price question with no sum of money.
PARTIAL_TIME = {
    "zh-Hant": "文件中沒有提到具體時間；最接近的內容：",
    "zh-Hans": "文件中没有提到具体时间；最接近的内容：",
    "en": "The documents do not say when. Closest passages:",
}
PARTIAL_MONEY = {
    "zh-Hant": "文件中沒有提到具體金額；最接近的內容：",
    "zh-Hans": "文件中没有提到具体金额；最接近的内容：",
    "en": "The documents do not give the amount. Closest passages:",
}
# How {what} quotes the question in each script.
ASKED = {"zh-Hant": "「{question}」", "zh-Hans": "“{question}”", "en": '"{question}"'}

# Said, with no citation, to input that asks nothing: empty, blank, punctuation, emoji or a single character.
ASK_A_QUESTION = {
    "zh-Hant": "請輸入一個關於文件的問題。",
    "zh-Hans": "请输入一个关于文件的问题。",
    "en": "Please ask a question about your documents.",
}

EMPTY_NOTEBOOK = {
    "zh-Hant": "筆記本還是空的：請先建立索引（rag index seeds/）。",
    "zh-Hans": "笔记本还是空的：请先建立索引（rag index seeds/）。",
    "en": "The notebook is empty: index some files first (rag index seeds/).",
}


def refusal(script: str, reason: dict[str, str] = REFUSAL) -> str:
    """The fixed sentence said when the documents do not contain the answer (`reason`: which sentence set)."""
    return reason.get(script, reason["en"])


# ---------------------------------------------------------------- generative answers (rag/answer/generative.py)

# One line said in the answer stream when the generative backend fails; the extractive answer follows.
LLM_UNREACHABLE = {
    "zh-Hant": "無法連線到 LLM 伺服器 {url}：{detail}；以下改為摘錄式回答。",
    "zh-Hans": "无法连接到 LLM 服务器 {url}：{detail}；以下改为摘录式回答。",
    "en": "LLM server unreachable at {url}: {detail}; showing the extractive answer.",
}
LLM_TIMEOUT = {
    "zh-Hant": "LLM 伺服器 {url} 在 {timeout:g} 秒內沒有回應；以下改為摘錄式回答。",
    "zh-Hans": "LLM 服务器 {url} 在 {timeout:g} 秒内没有响应；以下改为摘录式回答。",
    "en": "LLM server at {url} did not answer within {timeout:g} s; showing the extractive answer.",
}
LLM_HTTP_ERROR = {
    "zh-Hant": "LLM 伺服器 {url} 回傳錯誤（{detail}）；以下改為摘錄式回答。",
    "zh-Hans": "LLM 服务器 {url} 返回错误（{detail}）；以下改为摘录式回答。",
    "en": "LLM server at {url} returned an error ({detail}); showing the extractive answer.",
}
LLM_UNAVAILABLE = {
    "zh-Hant": "本機模型無法使用：{detail}；以下改為摘錄式回答。",
    "zh-Hans": "本机模型无法使用：{detail}；以下改为摘录式回答。",
    "en": "Local model unavailable: {detail}; showing the extractive answer.",
}
LLM_FAILED = {
    "zh-Hant": "LLM 出錯（{detail}）；以下改為摘錄式回答。",
    "zh-Hans": "LLM 出错（{detail}）；以下改为摘录式回答。",
    "en": "The LLM failed ({detail}); showing the extractive answer.",
}
LLM_STOPPED = {
    "zh-Hant": "LLM 回答到一半中斷（{detail}）；以上回答不完整。",
    "zh-Hans": "LLM 回答到一半中断（{detail}）；以上回答不完整。",
    "en": "The LLM stopped mid-answer ({detail}); the answer above is incomplete.",
}
UNVERIFIED = {
    "zh-Hant": "模型的回答無法對照文件查證；以下改為摘錄式回答。",
    "zh-Hans": "模型的回答无法对照文件查证；以下改为摘录式回答。",
    "en": "The model's answer could not be verified against the documents; showing the extractive answer.",
}
# Said when the model answers with the refusal sentence although the extractive answer found a sentence that answers:
# a bare refusal would contradict the passages, so they are shown after this line.
LLM_REFUSED = {
    "zh-Hant": "模型沒有找到答案；文件中的段落這樣說：",
    "zh-Hans": "模型没有找到答案；文件中的段落这样说：",
    "en": "The model found no answer; the passages say:",
}
LLAMA_CPP_MISSING = "llama-cpp-python is not installed (make llm)"
OPENAI_MISSING = "langchain-openai is not installed (pip install -e .[openai])"
OPENAI_INSTALL = "pip install langchain-openai"
GGUF_MISSING = "no GGUF model at {path} (make llm, or set RAG_GGUF_PATH)"


def say(messages: dict[str, str], script: str, **values) -> str:
    """One of the messages above in the answer's script, its {placeholders} filled in."""
    return messages.get(script, messages["en"]).format(**values)
