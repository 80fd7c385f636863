"""The public verify page speaks the visitor's language (their browser's Accept-Language), and
the determination stays the Chinese legal text whoever reads or makes it."""

import re
import subprocess
from pathlib import Path

from conftest import Api
from flows import determined_case, evacuated_case, rear_end_decision

ENGLISH = {"Accept-Language": "en"}
HTML = {"Accept": "text/html"}
HAN = re.compile(r"[\u4e00-\u9fff]")


async def test_the_verify_page_reads_english_to_an_english_browser_and_chinese_by_default(api: Api) -> None:
    case = await determined_case(api)
    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json()
    url = f"/verify/{document['number']}"

    english = await api.client.get(url, headers=HTML | ENGLISH)
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    for said in ("Verify a road traffic accident determination", "Issued by", "In force", ">Verify</button>"):
        assert said in english.text, said
    # The only Chinese left is the issuing authority's name, a proper name.
    assert set(HAN.findall(english.text)) <= set(api.context.settings.issuing_authority)

    chinese = await api.client.get(url, headers=HTML)
    assert '<html lang="zh-CN">' in chinese.text
    for said in ("道路交通事故认定书核验", "签发机关", "有效", ">核验</button>"):
        assert said in chinese.text, said

    pdf = (await api.client.get(document["download_url"], headers=case.reporter)).content
    upload = {"file": ("a.pdf", pdf, "application/pdf")}
    checked = await api.client.post(url, files=upload, headers=HTML | ENGLISH)
    assert "This determination was issued by this authority and has not been changed." in checked.text
    assert "Current status: In force" in checked.text
    checked = await api.client.post(url, files=upload)
    assert checked.json()["message"] == "该认定书由本机关签发，内容未被修改。"


async def test_a_refused_upload_is_told_in_the_visitors_language(api: Api) -> None:
    case = await determined_case(api)
    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json()
    not_pdf = {"file": ("a.pdf", b"GIF89a....", "application/pdf")}
    english = await api.client.post(f"/verify/{document['number']}", files=not_pdf, headers=ENGLISH)
    chinese = await api.client.post(f"/verify/{document['number']}", files=not_pdf)
    assert english.status_code == chinese.status_code == 415
    assert english.json()["detail"] == "Please upload the determination as a PDF file"
    assert chinese.json()["detail"] == "请上传PDF格式的认定书"


async def test_an_english_officer_issues_a_chinese_document_and_reads_the_rule_in_english(
    api: Api, tmp_path: Path
) -> None:
    case = await evacuated_case(api)
    officer = case.officer | ENGLISH
    proposal = (await api.client.get(f"/api/cases/{case.id}/liability-proposal", headers=officer)).json()
    assert proposal["label"] == "In a rear-end collision the vehicle behind is fully responsible"
    assert proposal["message"].startswith("Suggested: In a rear-end collision")
    determined = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=officer
    )
    assert determined.status_code == 200, determined.text
    await api.documents_made()  # made and signed after the determination's transaction

    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=officer)).json()
    assert document["status_label"] == "In force"
    path = tmp_path / "document.pdf"
    path.write_bytes((await api.client.get(document["download_url"], headers=officer)).content)
    printed = "".join(
        subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    for chinese in (
        "全部责任",
        "无责任",
        "2026年11月25日",
        "责任认定依据：追尾的后车负全部责任，依据《道路交通事故处理程序规定》第60条第1项；简易程序常见情形第1项。",
    ):
        assert chinese in printed, chinese
    assert not re.search(r"In force|responsib|Art\.|Provisions", printed)

    file = (await api.client.get(f"/api/cases/{case.id}/case-file", headers=officer)).json()["determination"]
    assert file["rule_label"] == "In a rear-end collision the vehicle behind is fully responsible"
    assert file["rule_basis"] == (
        "Art. 60(1) of the Provisions on the Procedures for Handling Road Traffic Accidents;"
        " common quick-handling situation no. 1"
    )
    chinese_file = (await api.client.get(f"/api/cases/{case.id}/case-file", headers=case.officer)).json()
    assert chinese_file["determination"]["rule_label"] == "追尾的后车负全部责任"
    assert chinese_file["determination"]["rule_basis"] == (
        "《道路交通事故处理程序规定》第60条第1项；简易程序常见情形第1项"
    )
