import json, sys, time
sys.path.insert(0, '.')
from rag import Notebook
from rag.evaluate import load_questions
from rag.text import keyword_tokens
nb = Notebook(path='.rag-calib')
print(nb.index('seeds/', progress=False).summary())
qs = load_questions('tests/data/dev.jsonl')
offtopic = ["如何烤出好吃的酸種麵包?", "What is the best hiking trail in the Alps?", "台北明天會下雨嗎?", "how do I renew my passport?",
 "周杰伦的新专辑叫什么?", "What is the capital of Australia?", "貓咪一天要睡多久?", "who won the 2022 world cup?",
 "怎么做红烧肉?", "What does TSMC's 2nm process cost per wafer?", "Apple 的 M4 晶片有幾個核心?", "特斯拉的自動駕駛出過幾次事故?"]
rows = [(q['question'], bool(q['evidence'])) for q in qs] + [(q, False) for q in offtopic]
a = nb.answerer
for question, answerable in rows:
    hits = nb.search(question)
    cands = a.candidates(hits)
    a.score(question, hits, cands)
    best = max(cands, key=lambda c: c.score)
    terms = keyword_tokens(question, for_query=True)
    cov_all = a.coverage(terms, " ".join(h.text for h in hits[:3]))
    print(f"{int(answerable)} score={best.score:.3f} sim={max(c.similarity for c in cands):.3f} cov1={max(c.coverage for c in cands):.2f} cov3={cov_all:.2f} dsim={max((h.dense_similarity or 0) for h in hits):.3f} {question[:50]}")
