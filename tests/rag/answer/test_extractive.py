"""The extractive answerer's answer types: what a "when" or "how much" question needs from a sentence."""

from __future__ import annotations

from rag.answer.question import analyse, answer_type, shows_answer_type


def test_when_questions_need_a_time_and_how_much_questions_a_number():
    when = answer_type("金管會對AI Agent的規範什麼時候開始上路?")
    assert when is answer_type("When will Blackwell ship?")
    assert shows_answer_type(when, "Blockwhale架構預計明年中問世。", "什麼時候會出?")
    assert shows_answer_type(when, "It ships in March 2025.", "When will it ship?")
    assert not shows_answer_type(when, "金管會將規範Agent的商業應用。", "什麼時候開始上路?")
    amount = answer_type("how much are hyundai and nvidia putting into it?")
    assert amount is answer_type("會寫CUDA的GPU工程師薪水行情大概多少?")
    assert shows_answer_type(amount, "現代汽車集團與NVIDIA宣布共同投資30億美元", "how much?")
    assert answer_type("What did KKR call it?") is None


def test_an_era_or_a_period_answers_a_when_question():
    when = answer_type("硕鬣狗生存于什么时候？")
    assert shows_answer_type(when, "牠们生存于300-50万年前的上新世晚期至更新世中期。", "硕鬣狗生存于什么时候？")
    assert shows_answer_type(when, "在13世紀許多人逃難到了喀山。", "喀山在什麼時候成為中心?")
    assert shows_answer_type(when, "The castle was built in the 13th century.", "When was the castle built?")
    assert not shows_answer_type(when, "世界上最大的鬣狗。", "硕鬣狗生存于什么时候？")
    assert not shows_answer_type(when, "牠是現代中國最常見的鬣狗。", "硕鬣狗生存于什么时候？")  # 代中 is no period
    assert not shows_answer_type(when, "The average age of its members is high.", "When was it founded?")


def test_numbers_the_question_gives_do_not_count_as_the_answer():
    question = "What happened to Nvidia in 2025, and when?"
    when = answer_type(question)
    assert not shows_answer_type(when, "In 2025 Nvidia kept growing.", question)
    assert shows_answer_type(when, "In 2025 Nvidia kept growing until March.", question)


def test_a_date_is_not_an_amount():
    amount = answer_type("台積電在美國投資多少?")
    assert not shows_answer_type(amount, "台積電於2020年宣布在美國設廠。", "台積電在美國投資多少?")
    assert not shows_answer_type(amount, "In 2020, TSMC opened a plant in Arizona.", "How much did TSMC invest?")
    assert not shows_answer_type(amount, "工廠在3月15日開幕。", "多少?")
    assert shows_answer_type(amount, "2020年的投資金額為120億美元。", "台積電在美國投資多少?")
    assert shows_answer_type(amount, "TSMC invested $12 billion in 2020.", "How much did TSMC invest?")
    assert shows_answer_type(amount, "2000人參加了這次會議。", "有多少人參加?")
    assert shows_answer_type(amount, "He ran the 1500 metres.", "How far did he run?")


def test_a_price_question_needs_a_sum_of_money_not_any_number():
    from rag.answer.extractive import Candidate
    from rag.answer.refusals import lacks_asked_fact
    from rag.messages import NO_MONEY, NO_TIME

    def said(*texts):
        return [Candidate(0, 0, len(t), t) for t in texts]

    question = "How much does the Acme X200 camera cost?"
    assert (
        lacks_asked_fact(analyse(question), said("It weighs 450 grams.", "It has a 24-megapixel sensor.")) is NO_MONEY
    )
    assert lacks_asked_fact(analyse(question), said("It weighs 450 grams.", "It sells for $1,299.")) is None
    assert lacks_asked_fact(analyse("H100的售價是多少?"), said("H100售價約3萬美元。")) is None
    assert lacks_asked_fact(analyse(question), said("Building it cost about 355 billion won.")) is None  # any currency
    assert lacks_asked_fact(analyse(question), said("It cost about 2 billion.")) is None  # a large sum alone
    assert lacks_asked_fact(analyse(question), said("It has 80 billion transistors.")) is NO_MONEY  # a count
    assert lacks_asked_fact(analyse("H100的售價是多少?"), said("H100有800億個電晶體。")) is NO_MONEY
    assert lacks_asked_fact(analyse("How much memory does it have?"), said("It has 80 GB.")) is None  # not a price
    when = said("The camera has a 24-megapixel sensor.")
    assert lacks_asked_fact(analyse("When was the camera announced?"), when) is NO_TIME  # untyped: no time in it


def test_unknown_words_are_named_as_the_question_writes_them():
    from rag.answer.refusals import as_asked as _as_asked

    assert _as_asked("面包", "如何烤出好吃的酸種麵包?") == "麵包"  # Traditional, as asked
    assert _as_asked("alps", "What is the best hiking trail in the Alps?") == "Alps"
    assert _as_asked("qwerty", "What is this?") == "qwerty"
