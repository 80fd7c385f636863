"""The reviewer's and the supervisor's pages in a real browser (issue 8): the reviewer sees what
the officer saw and decided, with the days left to decide; the supervisor finds cases by plate
and replays a send-back and a collection override with their reasons, inside a 1366 px screen."""

from pathlib import Path

from conftest import STAFF_PASSWORD, requires_chromium
from live_casework import (
    PLATE_COVERED,
    REASONING,
    ZHANG,
    collected_case,
    determined_case,
    live_server,
    login,
    party_login,
)
from playwright.sync_api import Browser, Page, expect

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock
from kuaichu.principal import Role

SENT_BACK = "碰撞部位照片模糊，无法判断接触点，请补拍"


def staff_page(browser: Browser, url: str, path: str, username: str) -> Page:
    page = browser.new_context(base_url=url, viewport={"width": 1366, "height": 768}).new_page()
    page.goto(path)
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button")
    return page


def open_found(page: Page, query: str, number: str) -> None:
    page.fill("#search-q", query)
    page.click("#search-form button")
    page.locator("#search-rows tr", has_text=number).get_by_role("button", name="打开").click()


@requires_chromium
def test_reviewer_and_supervisor_see_the_reasons_behind_each_step(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        database.write_sync(
            lambda s: create_user(
                s,
                username="supervisor-live",
                password=STAFF_PASSWORD,
                role=Role.SUPERVISOR,
                display_name="监管员",
                now=SystemClock().now(),
            )
        )
        zhang = party_login(client, database, ZHANG)
        sent_back = collected_case(client, zhang)
        reviewed = determined_case(client, zhang)
        officer = login(client, "officer-live")
        client.post(
            f"/api/cases/{reviewed.id}/review",
            json={"reasons": "对方倒车在先，请求复核"},
            headers=reviewed.reporter,
        ).raise_for_status()

        # The officer sends the first case back, with a reason, from the workbench.
        workbench = staff_page(browser, server.url, "/workbench", "officer-live")
        open_found(workbench, sent_back.number, sent_back.number)
        workbench.click("#send-back")
        workbench.click("#reason-confirm")
        expect(workbench.locator("#action-reason-error")).to_have_text("请填写原因")
        workbench.fill("#action-reason", SENT_BACK)
        workbench.click("#reason-confirm")
        expect(workbench.locator("#message")).to_contain_text("已退回补充证据")
        assert client.get(f"/api/cases/{sent_back.id}", headers=officer).json()["state"] == "more_evidence"

        # The reviewer: what the officer saw and decided, and the days left (art. 73).
        review = staff_page(browser, server.url, "/review", "reviewer-live")
        review.locator("#case-rows tr", has_text=reviewed.number).get_by_role("button", name="复核").click()
        expect(review.locator("#period")).to_contain_text("复核期限")
        expect(review.locator("#period")).to_contain_text("剩余")
        expect(review.locator("#determination")).to_contain_text(REASONING)
        expect(review.locator("#determination")).to_contain_text("适用规则：追尾的后车负全部责任")
        expect(review.locator("#determination")).to_contain_text("采纳规则建议")
        expect(review.locator("#determination")).to_contain_text("乙 李娜：全部责任")
        expect(review.locator("#overrides")).to_contain_text(PLATE_COVERED)
        expect(review.locator("#checks li")).to_have_count(6)
        expect(review.locator("#gallery figcaption", has_text="当事人2 车辆全貌")).to_have_count(1)
        expect(review.locator("#reasons")).to_contain_text("对方倒车在先")
        review.screenshot(path=str(artifacts_dir / "review.png"), full_page=True)

        # The supervisor: both cases by the plate; the replay tells why at each step.
        supervisor = staff_page(browser, server.url, "/supervisor", "supervisor-live")
        # Beside the stalled documents: no signal recomputation failing or overdue.
        expect(supervisor.locator("#stuck-signals li")).to_have_text(["无"])
        supervisor.fill("#search-q", "浙A54321")
        supervisor.click("#search-form button")
        expect(supervisor.locator("#search-rows tr")).to_have_count(2)
        supervisor.locator("#search-rows tr", has_text=sent_back.number).get_by_role(
            "button", name="打开"
        ).click()
        expect(supervisor.locator("#replay-number")).to_have_text(sent_back.number)
        timeline = supervisor.locator("#replay-timeline li")
        expect(timeline.filter(has_text=PLATE_COVERED)).to_contain_text("缺少当事人2（李娜）号牌照片")
        expect(timeline.filter(has_text=SENT_BACK)).to_contain_text("民警退回补充证据")
        expect(supervisor.locator("#replay-gallery figcaption").first).to_contain_text("车辆并排同框")
        supervisor.screenshot(path=str(artifacts_dir / "supervisor-replay.png"), full_page=True)
        assert supervisor.evaluate("document.documentElement.scrollWidth") <= 1366
