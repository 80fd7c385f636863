"""The supervisor's page in a real browser: queue health, the charts, a case replayed."""

from pathlib import Path
from typing import Any

import httpx
from conftest import STAFF_PASSWORD, XIHU, requires_chromium
from live import login_code, prepare_database, servers
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.principal import Role

WAITING, TAKEN = "13800003333", "13800004444"  # two drivers, one case each


def _reported(client: httpx.Client, database: object, phone: str) -> dict[str, Any]:
    """A driver logs in by SMS, agrees to the recording notice and reports with one tap."""
    since = SystemClock().now()
    client.post("/api/auth/sms-code", json={"phone": phone}).raise_for_status()
    code = login_code(database, phone, since)
    token = client.post("/api/auth/party", json={"phone": phone, "code": code}).json()["access_token"]
    party = {"Authorization": f"Bearer {token}"}
    client.post("/api/consents", json={"version": PRIVACY_NOTICE_VERSION}, headers=party).raise_for_status()
    response = client.post("/api/calls", json=XIHU, headers=party)
    assert response.status_code == 201, response.text
    return response.json()


@requires_chromium
def test_supervisor_sees_the_queue_and_replays_a_case(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(database_url)

    def supervisor(session: Session) -> None:
        create_user(
            session,
            username="supervisor-live",
            password=STAFF_PASSWORD,
            role=Role.SUPERVISOR,
            display_name="监管员",
            now=SystemClock().now(),
        )

    database.write_sync(supervisor)
    with (
        servers(tmp_path / "data", database_url, 1) as (server,),
        httpx.Client(base_url=server.url) as client,
    ):
        waiting = _reported(client, database, WAITING)
        operator_login = client.post(
            "/api/auth/staff", json={"username": "op-live", "password": STAFF_PASSWORD}
        )
        operator = {"Authorization": f"Bearer {operator_login.json()['access_token']}"}
        taken = _reported(client, database, TAKEN)
        client.post(f"/api/cases/{taken['case_id']}/take", headers=operator).raise_for_status()

        page = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 1000}).new_page()
        page.goto("/supervisor")
        page.fill("#username", "supervisor-live")
        page.fill("#password", STAFF_PASSWORD)
        page.click("#login-form button")
        xihu_row = page.locator("#queue-rows tr", has_text="西湖区")
        expect(xihu_row).to_contain_text("西湖区")
        expect(xihu_row.locator("td").nth(1)).to_have_text("1")
        expect(page.locator("#chart-queue_wait rect")).to_have_count(11)

        page.fill("#search-q", taken["number"])
        page.click("#search-form button")
        page.locator("#search-rows tr", has_text=taken["number"]).get_by_role("button", name="打开").click()
        expect(page.locator("#replay-number")).to_have_text(taken["number"])
        expect(page.locator("#replay-timeline li")).to_have_count(2)
        expect(page.locator("#replay-timeline li").nth(1)).to_contain_text("坐席已接警")
        expect(page.locator("#replay-access tr").last).to_contain_text("回放案件")
        page.click("#verify-audit")
        expect(page.locator("#audit-result")).to_contain_text("完整")
        page.screenshot(path=str(artifacts_dir / "supervisor.png"), full_page=True)
        assert waiting["state"] == "queued"
    database.dispose()
