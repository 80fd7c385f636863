"""The party page shows who pays what (交强险) once the insurer reported its 定损, in Chromium."""

from pathlib import Path

from conftest import requires_chromium
from live import login_code
from live_casework import LI_NA, ZHANG, determined_case, live_server, party_login, party_session
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_insurer
from kuaichu.clock import SystemClock
from kuaichu.demo.seed import INSURERS


@requires_chromium
def test_the_party_reads_who_pays_what_after_the_assessment(browser: Browser, tmp_path: Path) -> None:
    with live_server(tmp_path) as (server, client, database):

        def register(session: Session) -> dict[str, str]:
            now = SystemClock().now()
            return {
                code: create_insurer(session, code=code, name=name, webhook_url=None, now=now)[1]
                for code, name in INSURERS
            }

        keys = database.write_sync(register)
        zhang = party_login(client, database, ZHANG)
        case = determined_case(client, zhang)  # 张伟 (甲) bears none, 李娜 (乙) all of it
        claims = [
            client.post(f"/api/cases/{case.id}/claim", headers=who).json()
            for who in (zhang, party_session(LI_NA))
        ]
        insurer = {"X-API-Key": keys[claims[0]["insurer_code"]]}  # 李娜's insurer handles both
        parties = client.get(f"/api/cases/{case.id}", headers=zhang).json()["parties"]
        plates = [p["plate_number"] for p in sorted(parties, key=lambda p: p["position"])]
        losses = [
            {"plate_number": plates[0], "amount": "3500.00"},
            {"plate_number": plates[1], "amount": 800},
        ]
        assessed = client.post(
            f"/api/insurer/claims/{claims[0]['id']}/progress",
            json={"status": "assessed", "losses": losses},
            headers=insurer,
        )
        assert assessed.status_code == 200, assessed.text

        page = browser.new_page(locale="zh-CN")
        page.goto(f"{server.url}/party")
        page.fill("#phone", ZHANG)
        since = SystemClock().now()
        page.click("#send-code")
        page.fill("#code", login_code(database, ZHANG, since))
        page.click("#login")
        page.get_by_role("button", name=case.number).click()

        lines = page.locator("#compensation-lines li")
        expect(lines).to_have_count(4)  # two payments, and each car's part beyond 交强险
        expect(lines.nth(0)).to_contain_text(f"{plates[0]}车损 2,000.00元（赔付对方损失）")
        expect(lines.nth(1)).to_contain_text(f"{plates[1]}车损 100.00元（无责代赔）")
        expect(lines.nth(2)).to_contain_text(f"{plates[0]}：超出交强险部分由商业险或责任方承担")
        expect(lines.nth(2)).to_contain_text("1,500.00元")
        expect(lines.nth(3)).to_contain_text("700.00元")
        page.close()
