"""Tiny documents whose answers sit in an interview reply, a table row and an argued post's conclusion."""

INTERVIEW_ZH = """訪談：晶片供應鏈的未來

主持人：今天我們請到半導體分析師林嘉文。
主持人：林先生，你認為台灣的晶圓廠最大的風險是什麼？
林嘉文：最大的風險是電力供應，新的廠房每年需要的電力相當於一座中型城市。
主持人：那人才呢？很多人說工程師不夠。
林嘉文：人才確實吃緊，但各校已經增加了半導體學程，五年內應該能補上缺口。
主持人：你對明年的資本支出有什麼預測？
林嘉文：我預估明年的資本支出會成長約兩成，主要投入先進封裝。
"""

INTERVIEW_EN = """Shipping podcast, episode 12

Host: Welcome back. Our guest today is Maria Okafor, who runs logistics for a shipping firm.
Host: Maria, what is the biggest bottleneck in container shipping right now?
Maria Okafor: Honestly, it is port congestion in Southeast Asia; ships wait up to nine days to unload.
Host: And how are freight rates moving?
Maria Okafor: Rates fell about thirty percent since March, mostly because new vessels entered service.
"""

ARGUED_POST = """遠距工作會降低生產力嗎？

這兩年，大家爭論不休的問題就是「遠距工作到底會不會降低生產力」。
很多人認為，員工在家一定會偷懶，效率自然下滑。
說它會降低生產力,是因為新進員工少了面對面的指導，學得比較慢。
但實際上，整體來看遠距工作並不會降低生產力，多數研究發現團隊的產出持平甚至略增。
這證明了：管理方式比工作地點更重要。
P.S. 歡迎在留言區分享你在家工作的經驗。
"""

BUS_TABLE = [
    ("title", "城市巴士車隊概況"),
    ("p", "本公司目前營運三條巴士路線，車隊全數為電動巴士。"),
    (
        "table",
        (
            "路線 Route|車輛數 Buses|發車間隔 Headway\n環港線 Harbor Loop|45|6 分鐘\n山頂線 Peak Line|12|15 分鐘\n"
            "機場快線 Airport Express|30|10 分鐘"
        ),
    ),
    ("p", "所有路線的票價均為每程二十元。"),
]
