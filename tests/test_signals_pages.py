"""Signals on the pages, in a real browser (issue 14): 张伟 and 李娜 log in by SMS on the same
phone before the accident is reported; once collection completes, the officer's workbench and
the supervisor's page list the case under 风险提示 with its reason, the filter by signal keeps
or drops it, and the case itself shows the reason beside its facts."""

from pathlib import Path

import httpx
from conftest import STAFF_PASSWORD, XIHU, requires_chromium
from live import LiveServer
from live_casework import LI_NA, ZHANG, collect, complete, live_server, login, party_login
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database
from kuaichu.principal import Role

SHARED_DEVICE = "当事人1与当事人2从同一设备登录"


def flagged_case(client: httpx.Client, database: Database) -> str:
    """Both drivers log in on one phone (one client: one device cookie); 张伟 reports and the
    operator collects. Gives the case's number."""
    reporter = party_login(client, database, ZHANG)
    party_login(client, database, LI_NA)
    notice = {"version": PRIVACY_NOTICE_VERSION}
    client.post("/api/consents", json=notice, headers=reporter).raise_for_status()
    case = client.post("/api/calls", json=XIHU, headers=reporter).json()
    operator = login(client, "op-live")
    assert client.post(f"/api/cases/{case['case_id']}/take", headers=operator).status_code < 300
    collect(client, operator, case["case_id"])
    complete(client, operator, case["case_id"])
    return case["number"]


def logged_in(browser: Browser, server: LiveServer, path: str, username: str, ready: str) -> Page:
    page = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768}).new_page()
    page.goto(path)
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button")
    expect(page.locator(ready)).to_be_visible()
    return page


def filter_by(page: Page, number: str) -> None:
    """The filter keeps the case under its own signal and drops it under another."""
    rows = page.locator("#signal-rows tr")
    page.select_option("#signal-filter", "late_report")
    expect(rows).to_have_text(["暂无带风险提示的案件"])
    page.select_option("#signal-filter", "shared_login")
    expect(rows.filter(has_text=number)).to_contain_text(f"双方从同一设备或网络登录：{SHARED_DEVICE}")


@requires_chromium
def test_the_officer_and_the_supervisor_see_and_filter_signals(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        number = flagged_case(client, database)

        officer = logged_in(browser, server, "/workbench", "officer-live", "#list-view")
        expect(officer.locator("#signal-rows tr", has_text=number)).to_contain_text(SHARED_DEVICE)
        filter_by(officer, number)
        officer.locator("#signal-rows tr", has_text=number).get_by_role("button", name="打开").click()
        expect(officer.locator("#case-number")).to_have_text(number)
        expect(officer.locator("#case-signals")).to_contain_text(SHARED_DEVICE)
        officer.screenshot(path=str(artifacts_dir / "workbench-signals.png"), full_page=True)

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
        watching = logged_in(browser, server, "/supervisor", "supervisor-live", "#dashboard")
        filter_by(watching, number)
        watching.locator("#signal-rows tr", has_text=number).get_by_role("button", name="打开").click()
        expect(watching.locator("#replay-number")).to_have_text(number)
        expect(watching.locator("#replay-signals")).to_contain_text(SHARED_DEVICE)
        watching.screenshot(path=str(artifacts_dir / "supervisor-signals.png"), full_page=True)
