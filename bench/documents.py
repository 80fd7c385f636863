"""Determination documents generated and signed per second, against a bare reportlab page
signed by pyHanko with the same key (issue 13's baseline).

    .venv/bin/python bench/documents.py [--documents 100]

Full: the document as issued (platypus layout, embedded CJK font subset, vector QR code,
PAdES signature with an ECDSA P-256 key). Bare: the same lines of text drawn on one canvas
page with reportlab's built-in CID font (nothing embedded, no layout, no QR), signed by the
same signer (pyHanko, the same key and certificate). All run in this process, one after the
other; reported: documents per second of each and the ratio full/bare.
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from kuaichu.documents import pdf
from kuaichu.documents.signing import DocumentSigner
from kuaichu.settings import Settings

PARTY = pdf.PartyLine(
    designation="甲",
    name="张伟",
    id_number="330106**********31",
    licence_number="330106**********31",
    phone="138****0001",
    vehicle_type="小型轿车",
    plate_number="浙A12345",
    insurer="中国人民财产保险",
    policy_number="PDZA202633010600001",
    impact_point="车尾",
    responsibility="无责任",
)


def content(serial: int) -> pdf.DocumentContent:
    number = f"3301062026112500{serial:03d}-1"
    return pdf.DocumentContent(
        number=number,
        case_number=number[:-2],
        occurred_at="2026年11月25日 09时50分",
        address="西湖区文三路与学院路交叉口",
        weather="晴",
        accident_type="追尾",
        facts="乙车追尾甲车，两车尾部、前部轻微受损",
        parties=[PARTY, PARTY],
        reasoning="乙车在同一车道行驶时未与前车保持足以采取紧急制动措施的安全距离，追尾甲车",
        basis="追尾的后车负全部责任，依据《道路交通事故处理程序规定》第60条第1项；简易程序常见情形第1项",
        authority="示范市公安局交通警察支队",
        officer="王建国",
        badge_number="10086",
        issued_on="2026年11月25日",
        verify_url=f"http://127.0.0.1:8000/verify/{number}",
        replaces_number=None,
    )


def bare_page(document: pdf.DocumentContent) -> bytes:
    buffer = BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setFont("STSong-Light", 10)
    y = A4[1] - 60
    for line in document.lines():
        page.drawString(50, y, line[:60])
        y -= 16
    page.save()
    return buffer.getvalue()


def rate(label: str, count: int, make: Callable[[int], bytes]) -> float:
    make(0)  # warm-up: font loading, first signature
    started = time.perf_counter()
    size = 0
    for serial in range(1, count + 1):
        size += len(make(serial))
    per_second = count / (time.perf_counter() - started)
    print(f"{label:<34} {per_second:8.1f} documents/s   {size / count / 1024:6.1f} KiB each")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100)
    args = parser.parse_args()
    font_file = Settings().document_font_file
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    with tempfile.TemporaryDirectory() as directory:
        signer = DocumentSigner.at_set_up(
            Path(directory) / "key.pem",
            Path(directory) / "cert.pem",
            "示范市公安局交通警察支队",
            datetime.now(UTC),
        )
        full = rate(
            "full (layout, font, QR, signature)",
            args.documents,
            lambda n: signer.sign(pdf.render(content(n), font_file), reason="bench", location="bench"),
        )
        render_only = rate(
            "  of which render only", args.documents, lambda n: pdf.render(content(n), font_file)
        )
        bare = rate(
            "bare page signed (same key)",
            args.documents,
            lambda n: signer.sign(bare_page(content(n)), reason="bench", location="bench"),
        )
        unsigned = rate("  bare page unsigned", args.documents, lambda n: bare_page(content(n)))
    print(f"ratio full/bare: {full / bare:.3f}   (signing share of full: {1 - full / render_only:.0%})")
    print(f"ratio full/unsigned bare: {full / unsigned:.3f}")


if __name__ == "__main__":
    main()
