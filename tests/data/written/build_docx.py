"""Build ``linjiang_2024_district.docx`` (a district report with Word heading styles and a
table) from the paragraphs below: ``python tests/data/written/build_docx.py``.

The text is written for the tests; it is not a real document.
"""

from pathlib import Path

from docx import Document

HERE = Path(__file__).parent
# (style, text); style None is a body paragraph, "table" a list of rows
CONTENT = [
    ("Title", "临江区人民政府工作报告"),
    (None, "——2024年1月16日在临江区第三届人民代表大会第四次会议上"),
    (None, "区长  许文澜"),
    (None, "各位代表："),
    (
        None,
        "现在，我代表区人民政府，向大会报告工作，请予审议，并请区政协委员和其他列席人员提出意见。",
    ),
    ("Heading 1", "一、2023年工作回顾"),
    (None, "过去一年，全区地区生产总值增长5.8%，区级一般公共预算收入完成138.6亿元。"),
    ("Heading 2", "（一）科技创新策源能力持续增强"),
    (
        None,
        "临江科学城核心区加快建设，临江实验室一期建成启用。启迪之星、中芯微电、华研生物等企业总部落户，国家级专精特新“小巨人”企业达到26家。",
    ),
    ("Heading 2", "（二）城市功能品质加快提升"),
    (
        None,
        "轨道交通15号线临江段全线贯通，滨江大道二期、长宁东路建成通车。临江中央公园开园迎客，新建绿道12公里。完成银都1-7村、东风新村旧住房成套改造，惠及居民3120户。生态商务区启动区完成土地出让。",
    ),
    (None, "持续推进城市更新，临江老街风貌区改造一期竣工，合兴片区纳入全市城市更新试点。"),
    ("Heading 2", "（三）民生保障更加有力"),
    (
        None,
        "临江区第二人民医院新院区投入使用，新建临江中学、江湾小学，新增托育园3所。建成江湾社区长者照护之家。开展“健康临江”行动，为全区老年人提供血压、血脂、骨密度等免费检测服务。",
    ),
    ("Heading 1", "2024年主要任务"),
    (None, "今年，我们将重点抓好以下工作："),
    ("Heading 2", "（一）打造创新策源高地"),
    (None, "推进临江实验室二期建设，加快启迪之星总部大楼竣工。完成生态商务区02地块出让。"),
    ("Heading 2", "（二）提升城市功能"),
    (None, "开工建设轨道交通23号线，启动滨江大道三期建设。新建临江体育公园，改造易积水点15处。"),
    ("Heading 2", "（三）全力办好民生实事"),
    (None, "今年区政府实事项目如下："),
    (
        "table",
        [
            ["序号", "项目", "地点"],
            ["1", "新建江湾第二幼儿园", "江湾街道"],
            ["2", "改造临江区图书馆", "城中街道"],
            ["3", "新建长者食堂10家", "各街镇"],
        ],
    ),
    (None, "各位代表，让我们团结奋斗，为建设现代化临江而不懈努力！"),
]


def main() -> None:
    document = Document()
    for style, text in CONTENT:
        if style == "table":
            table = document.add_table(rows=0, cols=len(text[0]))
            for row in text:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = value
        elif style == "Title":
            document.add_heading(text, level=0)
        elif style:
            document.add_paragraph(text, style=style)
        else:
            document.add_paragraph(text)
    document.save(HERE / "linjiang_2024_district.docx")


if __name__ == "__main__":
    main()
