"""A three-document zh-Hant/zh-Hans/English corpus the agent-facing tests (MCP, LangChain retriever) index."""

DOCS = {
    "tpu.md": "---\ntitle: TPU 筆記\n---\n# TPU\n\nTPU 是 Google 自己設計的專用晶片，擅長矩陣運算。\n\n"
    "## 訓練\n\nGemini 3 完全在 TPU 上訓練，沒有用到 GPU。",
    "dram.txt": "DRAM is a cyclical business. The gross margin turns negative at the bottom of the cycle, "
    "and at the top of the cycle it reaches about 60%.",
    "llama.txt": "Llama3 有 1B、70B 和 405B 三种大小。\n\n一般人最常用的是 70B 版本。",
}
