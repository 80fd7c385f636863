"""当事人签名确认 in a real browser (issue 12): Chromium with fake camera and microphone, the call
peer to peer. 张伟, who reported, and 李娜, who logs in on her own phone and finds the case among
hers (the progress page: without a media server the call is the reporter's), each read the
record and draw their signature on the page; the console shows both as they
come; the operator evacuates, the officer determines, and the document's text (pdftotext) lists
both signatures with their times."""

import re
import subprocess
from pathlib import Path

from conftest import requires_chromium
from live import call_pages, party_context_page, party_logs_in, staff_logs_in, wait_until
from live_casework import LI_NA, ZHANG, collect, complete, determine, live_server, login, party_session
from playwright.sync_api import Browser, expect
from signing_pages import sign_on_page


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@requires_chromium
def test_each_party_signs_on_their_own_phone_and_the_document_lists_both(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with (
        live_server(tmp_path) as (server, client, database),
        call_pages(browser, server.url, server.url) as (zhang, console),
    ):
        # A loaded machine (the suite beside other work) can take its time: a minute at most.
        for page in (zhang, console):
            page.set_default_timeout(60_000)
        # 张伟 reports; the operator takes the call and records the case.
        party_logs_in(zhang, database, ZHANG)
        zhang.click("#report")
        zhang.click("#consent-agree")
        operator = bearer(staff_logs_in(console, "/console", "op-live"))
        console.click("#take-next")
        expect(console.locator("#call-view")).to_be_visible()
        expect(zhang.locator("#call-view")).to_be_visible(timeout=60_000)
        case_id = client.get("/api/calls/current", headers=operator).json()["case_id"]
        collect(client, operator, case_id)
        complete(client, operator, case_id)

        # Nobody has signed: the operator cannot let them leave, and the console says who is missing.
        refused = client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
        assert refused.status_code == 409
        assert "张伟" in refused.json()["detail"] and "李娜" in refused.json()["detail"]

        # 张伟 signs on his phone; the console shows it at once.
        sign_on_page(zhang)
        signed = console.locator('#confirmation-list [data-status="signed"]')
        expect(signed).to_have_count(1, timeout=60_000)
        expect(console.locator('#confirmation-list [data-status="unsigned"]')).to_contain_text("李娜")

        # 李娜 logs in on her own phone, opens the case among hers, and signs there.
        li_na = party_context_page(browser, server.url)
        li_na.set_default_timeout(60_000)
        try:
            party_logs_in(li_na, database, LI_NA)
            li_na.locator("#my-cases button").first.click()
            # Without a media server the call stays the reporter's: she signs from the progress page.
            sign_on_page(li_na, "#progress-view [data-confirm-open]")
            li_na.screenshot(path=str(artifacts_dir / "signatures-party-signed.png"))
            expect(signed).to_have_count(2, timeout=60_000)
            console.screenshot(path=str(artifacts_dir / "signatures-console.png"))

            # Both signed: 撤离, and each phone says so (hers on the progress page).
            client.post(f"/api/cases/{case_id}/evacuate", headers=operator).raise_for_status()
            expect(zhang.locator("#evacuate-view")).to_be_visible(timeout=60_000)
            expect(li_na.locator("#progress-state")).to_have_text("已撤离现场，等待定责", timeout=60_000)
        finally:
            li_na.context.close()

        determine(client, login(client, "officer-live"), case_id)
        reporter = party_session(ZHANG)
        documents = wait_until(
            lambda: client.get(f"/api/cases/{case_id}/documents", headers=reporter).json() or None,
            what="the determination document",
        )
        pdf = client.get(documents[0]["download_url"], headers=reporter).content

    (tmp_path / "document.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "document.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(text.split())
    assert "当事人签名确认" in flat
    when = r"已于\d{4}年\d{2}月\d{2}日\d{2}时\d{2}分签名确认"
    assert re.search("甲张伟：" + when, flat), text
    assert re.search("乙李娜：" + when, flat), text
