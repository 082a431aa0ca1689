"""The one "is this Chinese?" rule, script detection and character-only script conversion, on real sentences."""

from __future__ import annotations

import pytest

from rag.text.script import conversation_script, detect_script, han_share, in_script, is_chinese, to_script

# From the seeds (Taiwan, Traditional) and the CMRC 2018 dev corpus (Mainland, Simplified).
TRADITIONAL = [
    (
        "2024年大型語言模型發展將從全方位突破轉向特定領域的單點突破，硬體、應用與行業標準化成為關鍵觀察點，"
        "而NVIDIA的Blockwhale架構將是明年重要的技術指標。"
    ),
    "於是研究團隊拿幾個主流語言模型來跑上萬次拉霸機實驗,觀察在不同提示語和下注方式下,AI 會做什麼決策。",
    "結果發現,只要讓 AI 自己決定下注金額,它就很容易越下越多;連輸時也常會加碼想翻本。",
]
SIMPLIFIED = [
    "铁路西与德大铁路、黄大铁路在大家洼站接轨，东与龙烟铁路相连。",
    "莱昂德罗·内托曾先后效力于葡萄牙、塞尔维亚和巴西的球队，在每一支球队都是队内最犀利的得分手。",
    "赵鹏于1997年便加入河南建业青年队，2002年进入河南建业一线队。",
]


@pytest.mark.parametrize(
    "question",
    ["NVIDIA GPU 的市佔率", "OpenAI 和 Microsoft 的合約", "TPU能否取代GPU?", "台積電 3奈米 良率", "輝達的 IT 部門"],
)
def test_a_question_with_chinese_grammar_is_chinese_whatever_its_latin_names(question):
    # Regression: the retriever once called the first two English (Han x2 < Latin letters) while the answerer
    # called them Chinese.
    assert is_chinese(question)
    assert detect_script(question) != "en"


@pytest.mark.parametrize(
    "text", ["Who founded 台積電?", "What does 輝達 say about the H100?", "Can the TPU replace the GPU?", "GPU", ""]
)
def test_english_grammar_or_no_han_is_not_chinese(text):
    assert not is_chinese(text)
    assert detect_script(text) == "en"


def test_han_share_counts_a_latin_word_as_one_letter():
    assert han_share("NVIDIA 的市佔率") == pytest.approx(4 / 5)
    assert han_share("no han") == 0.0


def test_detect_script_reads_the_characters_and_falls_back_for_shared_ones():
    assert detect_script(TRADITIONAL[0]) == "zh-Hant"
    assert detect_script(SIMPLIFIED[0]) == "zh-Hans"
    assert detect_script("證明了這一點") == "zh-Hant"  # 了 is not Simplified just because OpenCC's s2t writes 瞭
    # 台北的人口是多少: every character is written the same way in both scripts.
    assert detect_script("台北的人口是多少", fallback="zh-Hans") == "zh-Hans"
    assert detect_script("台北的人口是多少", fallback="zh-Hant") == "zh-Hant"


def test_the_conversation_so_far_decides_the_script_of_a_question_in_shared_characters():
    turns = ["輝達的毛利率是多少？", "What about AMD?", "台北的人口是多少"]  # oldest first
    assert conversation_script(turns, default="zh-Hans") == "zh-Hant"
    assert conversation_script(["这是什么？", "台北的人口是多少"], default="zh-Hant") == "zh-Hans"
    assert conversation_script(["What about AMD?"], default="zh-Hans") == "zh-Hans"
    assert conversation_script([], default="zh-Hant") == "zh-Hant"
    question = "台北的人口是多少"
    assert detect_script(question, fallback=conversation_script(["这是什么？"], "zh-Hant")) == "zh-Hans"


@pytest.mark.parametrize("sentence", TRADITIONAL)
def test_traditional_sentences_stay_untouched_and_round_trip(sentence):
    assert in_script(sentence, "zh-Hant")
    assert to_script(sentence, "zh-Hant") is sentence
    simplified = to_script(sentence, "zh-Hans")
    assert len(simplified) == len(sentence) and detect_script(simplified) == "zh-Hans"
    assert to_script(simplified, "zh-Hant") == sentence


@pytest.mark.parametrize("sentence", SIMPLIFIED)
def test_simplified_sentences_stay_untouched_and_round_trip(sentence):
    assert to_script(sentence, "zh-Hans") is sentence
    traditional = to_script(sentence, "zh-Hant")
    assert len(traditional) == len(sentence) and detect_script(traditional) == "zh-Hant"
    assert to_script(traditional, "zh-Hans") == sentence


def test_conversion_changes_characters_never_words():
    # Issue 12: phrase tables (tw2sp, s2twp) rewrote quotes: 为什么 -> 为什幺, 程序 -> 进程, 项目 -> 專案 ...
    assert to_script("为什么这个程序的项目支持这种类型？", "zh-Hant") == "為什麼這個程序的項目支持這種類型？"
    assert to_script("為什麼這個程序的項目支持這種類型？", "zh-Hans") == "为什么这个程序的项目支持这种类型？"
    assert to_script("硬體和軟體", "zh-Hans") == "硬体和软体"  # not 硬件和软件
    # 么 already Simplified in a mixed sentence stays (tw2s's Taiwan table would make it 幺).
    assert to_script("為什么會這樣", "zh-Hans") == "为什么会这样"


def test_zhe_and_the_characters_taiwan_keeps():
    assert to_script("他看着我", "zh-Hant") == "他看著我"
    assert to_script("他看著我，接著說", "zh-Hans") == "他看着我，接着说"
    assert to_script("著名的著作", "zh-Hans") == "著名的著作"
    assert to_script("头发和发展", "zh-Hant") == "頭髮和發展"  # the character's form chosen in context
    assert to_script("后来他去了台湾", "zh-Hant") == "後來他去了台灣"  # 台 as Taiwan writes it, not 臺


def test_mixed_script_text_converts_only_the_other_scripts_characters():
    assert to_script("這證明了TPU可以訓練頂級模型。", "zh-Hant") == "這證明了TPU可以訓練頂級模型。"  # not 證明瞭
    assert to_script("微軟靠开源模型卖token。", "zh-Hant") == "微軟靠開源模型賣token。"
    assert to_script("Llama3 有10亿参数版本。", "zh-Hant") == "Llama3 有10億參數版本。"  # not 引數
    assert to_script("亞馬遜數據中心", "zh-Hans") == "亚马逊数据中心"  # 数据, not 资料 or 数据 -> 資料
    assert to_script("DRAM margins are negative.", "zh-Hant") == "DRAM margins are negative."
    assert to_script("台北", "en") == "台北"
