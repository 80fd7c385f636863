"""The determination document's pages: 道路交通事故认定书（简易程序）, art. 22.

Laid out with reportlab's platypus; the CJK font is embedded (subset) so every reader shows
the same glyphs; the QR code is drawn as vector squares, sharp at any zoom.
"""

from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "KuaichuCJK"
TITLE = "道路交通事故认定书（简易程序）"
REVIEW_NOTICE = (
    "当事人对本认定有异议的，可以自本认定书送达之日起三日内，向上一级公安机关交通管理部门"
    "提出书面复核申请，写明复核请求、理由和主要证据（《道路交通事故处理程序规定》第71条）。"
    "同一事故的复核以一次为限。"
)


@dataclass(frozen=True)
class PartyLine:
    designation: str  # 甲, 乙, 丙...: how the facts text names the party
    name: str
    id_number: str  # masked
    licence_number: str  # masked
    phone: str  # masked
    vehicle_type: str
    plate_number: str
    insurer: str
    policy_number: str
    impact_point: str
    responsibility: str


@dataclass(frozen=True)
class Signatures:
    """当事人签名确认: each party, who signed the recorded facts and when."""

    heading: str
    lines: list[str]


@dataclass(frozen=True)
class DocumentContent:
    number: str
    case_number: str
    occurred_at: str
    address: str
    weather: str
    accident_type: str
    facts: str
    parties: list[PartyLine]
    reasoning: str  # 认定理由, the officer's own words
    basis: str
    authority: str
    officer: str
    badge_number: str
    issued_on: str
    verify_url: str
    replaces_number: str | None
    signatures: Signatures | None = field(default=None)

    def lines(self) -> list[str]:
        """Every text on the page, in reading order (the bare benchmark page draws these)."""
        head = [
            TITLE,
            f"编号：{self.number}　案件编号：{self.case_number}",
            f"事故时间：{self.occurred_at}　天气：{self.weather}",
            f"事故地点：{self.address}",
        ]
        parties = [
            f"{p.designation} {p.name} {p.id_number} {p.licence_number} {p.phone} "
            f"{p.vehicle_type} {p.plate_number} {p.insurer} {p.policy_number} "
            f"{p.impact_point} {p.responsibility}"
            for p in self.parties
        ]
        tail = [
            f"事故形态：{self.accident_type}",
            f"事故事实：{self.facts}",
            f"认定理由：{self.reasoning}",
            f"责任认定依据：{self.basis}",
            *([self.signatures.heading, *self.signatures.lines] if self.signatures else []),
            REVIEW_NOTICE,
            f"办案民警：{self.officer}（警号{self.badge_number}）",
            f"{self.authority}　{self.issued_on}",
            f"验证：{self.verify_url}",
        ]
        return head + parties + tail


@cache
def register_font(font_file: Path) -> str:
    # subfontIndex 0 of the .ttc: the TrueType outlines reportlab can subset and embed.
    pdfmetrics.registerFont(TTFont(FONT, str(font_file), subfontIndex=0))
    return FONT


class QrCode(Flowable):
    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
        code.add_data(data)
        code.make(fit=True)
        self.matrix = code.get_matrix()
        self.size = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        cell = self.size / len(self.matrix)
        self.canv.setFillColor(colors.black)
        for row_index, row in enumerate(self.matrix):
            y = self.size - (row_index + 1) * cell
            for column_index, dark in enumerate(row):
                if dark:
                    self.canv.rect(column_index * cell, y, cell, cell, stroke=0, fill=1)


def render(content: DocumentContent, font_file: Path) -> bytes:
    font = register_font(font_file)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=12)
    # The font's digits are wide: numbers in the party table need a smaller size to fit a line.
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=10)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=TA_CENTER)
    label = ParagraphStyle("label", parent=small, textColor=colors.HexColor("#333333"))

    def p(*lines: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph("<br/>".join(_escape(line) for line in lines), style)

    story: list[Flowable] = [
        p(TITLE, style=title),
        Spacer(0, 2 * mm),
        p(f"编号：{content.number}　　案件编号：{content.case_number}", style=small),
        Spacer(0, 3 * mm),
    ]
    if content.replaces_number:
        story.append(
            p(
                f"本认定书经复核后重新作出，替代第{content.replaces_number}号认定书（原认定书已撤销）。",
                style=small,
            )
        )
    grid = [
        [p("事故时间", style=label), p(content.occurred_at), p("天气", style=label), p(content.weather)],
        [p("事故地点", style=label), p(content.address), "", ""],
        [p("事故形态", style=label), p(content.accident_type), "", ""],
    ]
    story.append(
        _table(grid, [22 * mm, 92 * mm, 16 * mm, 44 * mm], spans=[((1, 1), (3, 1)), ((1, 2), (3, 2))])
    )
    story.append(Spacer(0, 3 * mm))
    header = [
        "当事人",
        "身份证号\n驾驶证号",
        "联系电话",
        "车辆类型\n号牌号码",
        "保险公司\n交强险保单号",
        "碰撞部位",
        "责任",
    ]
    rows = [[p(*h.split("\n"), style=label) for h in header]]
    for party in content.parties:
        rows.append(
            [
                p(f"{party.designation}　{party.name}"),
                p(party.id_number, party.licence_number, style=cell),
                p(party.phone, style=cell),
                p(party.vehicle_type, party.plate_number, style=cell),
                p(party.insurer, party.policy_number, style=cell),
                p(party.impact_point, style=cell),
                p(party.responsibility),
            ]
        )
    story.append(_table(rows, [20 * mm, 36 * mm, 22 * mm, 20 * mm, 40 * mm, 16 * mm, 20 * mm]))
    story += [
        Spacer(0, 3 * mm),
        p("事故事实：" + content.facts),
        Spacer(0, 2 * mm),
        p("认定理由：" + content.reasoning),
        Spacer(0, 2 * mm),
        p("责任认定依据：" + content.basis),
        Spacer(0, 2 * mm),
    ]
    if content.signatures:
        story += [p(content.signatures.heading + "：", *content.signatures.lines), Spacer(0, 2 * mm)]
    story += [
        p(REVIEW_NOTICE, style=small),
        Spacer(0, 5 * mm),
    ]
    signature_block = [
        p(f"办案民警：{content.officer}（警号{content.badge_number}）"),
        p(content.authority),
        p(content.issued_on),
        p("扫码或访问以下地址核验本认定书真伪：", style=small),
        p(content.verify_url, style=small),
    ]
    story.append(
        Table(
            [[signature_block, QrCode(content.verify_url, 30 * mm)]],
            colWidths=[140 * mm, 32 * mm],
            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
        )
    )
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{TITLE} {content.number}",
        author=content.authority,
        # A fixed document id: the same content renders to the same bytes.
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()


def _table(
    rows: list[list[object]], widths: list[float], spans: list[tuple[tuple[int, int], ...]] | None = None
) -> Table:
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    style += [("SPAN", start, end) for start, end in spans or []]
    return Table(rows, colWidths=widths, style=TableStyle(style))


def _escape(text: str) -> str:
    # Paragraph reads a little markup; text from people must not be taken for it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
