"""The signed determination document: checked by poppler's tools, verified publicly, tamper-evident."""

import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import Api
from factories import id_number
from flows import OTHER, REPORTER, WalkedCase, determined_case, evacuated_case, rear_end_decision
from sqlalchemy import select

from kuaichu.app import create_app
from kuaichu.audit.models import AuditEntry
from kuaichu.clock import FrozenClock
from kuaichu.documents.service import DocumentIssuer
from kuaichu.principal import Role
from kuaichu.privacy import mask_id_number
from kuaichu.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The document job retries when a test awaits it (Api.documents_made), not at its period."""
    return settings.model_copy(update={"document_sweep_seconds": 3600})


async def issued_pdf(api: Api) -> tuple[WalkedCase, str, bytes]:
    case = await determined_case(api)
    documents = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json()
    [document] = documents
    response = await api.client.get(document["download_url"], headers=case.reporter)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return case, document["number"], response.content


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout


async def test_the_document_is_signed_complete_and_readable(
    api: Api, artifacts_dir: Path, tmp_path: Path
) -> None:
    _, number, pdf = await issued_pdf(api)
    path = tmp_path / f"{number}.pdf"
    path.write_bytes(pdf)

    signature = run("pdfsig", str(path))
    assert "Signature is Valid" in signature
    assert "Total document signed" in signature
    assert "示范市公安局交通警察支队" in signature

    text = run("pdftotext", "-layout", str(path), "-")
    for expected in (
        "道路交通事故认定书（简易程序）",
        number,
        "张伟",
        "李娜",
        "全部责任",
        "无责任",
        "浙A12345",
        "浙A54321",
        "西湖区文三路与学院路交叉口",
        "晴",
        "追尾",
        "中国人民财产保险",  # 张伟's insurer, as the insurance registry names it
        "PDZA202633010600001",
        "PDZA202633010600002",  # 李娜's policy by the registry (the operator entered 张伟's number)
        "三日内",
        "复核",
        "officer-xihu姓名",
        "10086",
        "2026年11月25日",
        f"/verify/{number}",
    ):
        assert expected in text, expected
    # ID and licence numbers and phones are masked.
    assert mask_id_number(id_number()) in text
    assert "19850312" not in text
    assert "138****0001" in text

    fonts = run("pdffonts", str(path))
    assert "emb" in fonts.splitlines()[0] and " yes " in fonts  # the CJK font is embedded

    # Rendered in the test's own folder, then kept: the SQLite and PostgreSQL runs of this test
    # may run at once on two workers, and the artifacts folder is shared.
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(path), str(tmp_path / "determination")],
        check=True,
    )
    assert (tmp_path / "determination.png").stat().st_size > 10_000
    shutil.copyfile(tmp_path / "determination.png", artifacts_dir / "determination.png")


async def test_the_parties_are_told_and_see_it_in_their_progress_view(api: Api) -> None:
    case, number, _ = await issued_pdf(api)
    texts = await api.sms_to(OTHER)
    assert any(number in text and "网办进度" in text for text in texts)
    timeline = (await api.client.get(f"/api/cases/{case.id}/timeline", headers=case.other)).json()
    issued = [e for e in timeline if e["kind"] == "document_issued"]
    assert issued and issued[0]["detail"]["number"] == number
    assert issued[0]["label"] == "出具电子事故认定书"


async def test_downloads_are_logged_and_outsiders_get_not_found(api: Api) -> None:
    case, number, _ = await issued_pdf(api)
    outsider = api.party_token("13711112222")
    response = await api.client.get(f"/api/documents/{number}/pdf", headers=outsider)
    assert response.status_code == 404
    await api.client.get(f"/api/documents/{number}/pdf", headers=case.officer)
    downloads = await api.context.database.read(
        lambda s: [
            (e.actor_role, e.actor_label, e.detail["number"])
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action == "download_document").order_by(AuditEntry.id)
            )
        ]
    )
    assert downloads == [("party", "当事人138****0001", number), ("officer", "officer-xihu姓名", number)]


async def test_the_public_verify_page_shows_no_personal_data(api: Api) -> None:
    _, number, _ = await issued_pdf(api)
    status = await api.client.get(f"/verify/{number}")  # no login
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "in_force" and body["status_label"] == "有效"
    assert body["issued_on"] == "2026-11-25"
    for personal in ("张伟", "李娜", REPORTER, OTHER, "浙A12345", id_number()):
        assert personal not in status.text
    page = await api.client.get(f"/verify/{number}", headers={"Accept": "text/html"})
    assert "有效" in page.text and 'type="file"' in page.text and "张伟" not in page.text
    assert (await api.client.get("/verify/33010620261125999-9")).status_code == 404


async def test_the_issued_pdf_verifies_and_a_changed_byte_does_not(api: Api, tmp_path: Path) -> None:
    _, number, pdf = await issued_pdf(api)
    genuine = await api.client.post(f"/verify/{number}", files={"file": ("a.pdf", pdf, "application/pdf")})
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["authentic"] is True and genuine.json()["unchanged"] is True

    # One byte changed, somewhere inside the signed content.
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 0x01
    result = await api.client.post(
        f"/verify/{number}", files={"file": ("a.pdf", bytes(tampered), "application/pdf")}
    )
    assert result.status_code == 200
    assert result.json()["authentic"] is False and result.json()["unchanged"] is False
    assert result.json()["signature_valid"] is False
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bytes(tampered))
    assert "Signature is Valid" not in run("pdfsig", str(path))

    html = await api.client.post(
        f"/verify/{number}",
        files={"file": ("a.pdf", bytes(tampered), "application/pdf")},
        headers={"Accept": "text/html"},
    )
    assert "已被修改" in html.text


async def test_an_upload_that_is_not_a_pdf_is_refused(api: Api) -> None:
    _, number, _ = await issued_pdf(api)
    response = await api.client.post(
        f"/verify/{number}", files={"file": ("a.pdf", b"GIF89a....", "application/pdf")}
    )
    assert response.status_code == 415


def failing_signer(api: Api, tmp_path: Path) -> DocumentIssuer:
    """The app's document job left with a font that is not there: every document it makes
    fails until the good issuer is put back. Returns the good one."""
    good = api.app.state.documents.issuer
    api.app.state.documents.issuer = replace(good, font_file=tmp_path / "no-such-font.ttc")
    return good


async def determined_while_signing_fails(api: Api, case: WalkedCase) -> httpx.Response:
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert response.status_code == 200, response.text
    # The run the determination woke and this one, one after the other: the first to run
    # failed, the other found nothing due (a failure is retried 5 s later).
    assert await api.documents_made() == 0
    assert await api.documents_made() == 0
    return response


async def test_the_document_is_made_after_the_determination_and_a_failing_signer_is_seen_and_retried(
    api: Api, clock: FrozenClock, tmp_path: Path
) -> None:
    case = await evacuated_case(api)
    good = failing_signer(api, tmp_path)
    response = await determined_while_signing_fails(api, case)
    assert response.json()["state"] == "determined"

    # The case is determined; its document is being made: said so, and nothing carries a link yet.
    detail = (await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)).json()
    assert detail["determination"]["document_pending"] is True
    assert detail["determination"]["document_pending_label"] == "文书生成中"
    assert (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json() == []
    case_file = await api.client.get(f"/api/cases/{case.id}/case-file", headers=case.officer)
    assert case_file.json()["determination"]["document_pending"] is True
    assert not any("网办进度" in text for text in await api.sms_to(OTHER))
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    [stalled] = (await api.client.get("/api/supervision/documents", headers=supervisor)).json()
    assert stalled["case_id"] == case.id and stalled["attempts"] == 1
    assert "no-such-font" in stalled["last_error"]

    # The signer works again: the next try makes it, and only now are the parties told.
    api.app.state.documents.issuer = good
    clock.advance(timedelta(seconds=5))
    assert await api.documents_made() == 1
    detail = (await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)).json()
    assert detail["determination"]["document_pending"] is False
    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json()
    assert document["number"] == stalled["number"]
    assert any(document["number"] in text and "网办进度" in text for text in await api.sms_to(OTHER))
    assert (await api.client.get("/api/supervision/documents", headers=supervisor)).json() == []
    assert await api.documents_made() == 0  # made once: a second run finds nothing to do


async def test_a_document_left_unmade_is_made_by_the_next_process_that_starts(
    api: Api, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    case = await evacuated_case(api)
    failing_signer(api, tmp_path)
    await determined_while_signing_fails(api, case)

    # What the determination committed is all another process needs (as after a kill -9).
    clock.advance(timedelta(seconds=5))
    restarted = create_app(settings, clock)
    async with LifespanManager(restarted):
        await restarted.state.documents.run_once()
    detail = (await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)).json()
    assert detail["determination"]["document_pending"] is False
    assert len((await api.client.get(f"/api/cases/{case.id}/documents", headers=case.reporter)).json()) == 1
