"""The call in a real browser: Chromium with fake camera and microphone, a party page and an
operator console in two browser contexts, real WebRTC over loopback.

Runs on one server process (SQLite, in-process bus), and with the party and the operator on
two different server processes sharing PostgreSQL and Redis.
"""

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import (
    STAFF_PASSWORD,
    requires_chromium,
    requires_postgres,
)
from factories import id_number, sign_all_live
from live import (
    FRAMES_ARRIVE,
    call_pages,
    fill_party,
    party_logs_in,
    prepare_database,
    servers,
    until_true,
)
from live_casework import party_session
from playwright.sync_api import Browser, Page, expect
from signing_pages import sign_on_page
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.db import Database
from kuaichu.evidence.models import EvidenceItem

PARTY_PHONE = "13800001111"
OTHER_PHONE = "13900002222"


def run_call(
    party: Page,
    console: Page,
    database: Database,
    artifacts: Path,
    name: str,
    *,
    auto_offer: bool,
    reconnect: bool,
    other_signs: Callable[[], None],
    before_drop: Callable[[Page], None] = lambda party: None,
) -> None:
    # The operator logs in.
    console.goto("/console")
    console.fill("#username", "op-live")
    console.fill("#password", STAFF_PASSWORD)
    console.click("#login-form button[type=submit]")
    expect(console.locator("#queue-view")).to_be_visible()
    if auto_offer:
        console.click("#go-available")
        expect(console.locator("#me-status")).to_have_text("空闲")

    # The party logs in with the SMS code and taps the one button.
    party_logs_in(party, database, PARTY_PHONE)
    expect(party.locator("#report")).to_be_visible()
    party.click("#report")
    # Before the first call: the notice of what is recorded, and the party's agreement.
    expect(party.locator("#privacy-text")).to_contain_text("录音录像")
    party.click("#consent-agree")

    if not auto_offer:
        # Waiting: safety advice, place in the queue; the console sees the caller waiting.
        expect(party.locator("#wait-view")).to_be_visible()
        expect(party.locator("#position")).to_have_text("0")
        expect(party.locator(".safety")).to_contain_text("150 米")
        expect(console.locator("#queue-rows tr")).to_have_count(1)
        party.screenshot(path=str(artifacts / f"{name}-party-waiting.png"))
        console.click("#take-next")

    # The call: real frames both ways.
    expect(console.locator("#call-view")).to_be_visible()
    expect(party.locator("#call-view")).to_be_visible()
    until_true(party, FRAMES_ARRIVE, what="frames")
    until_true(console, FRAMES_ARRIVE, what="frames")
    # The operator sees that the party was told what is recorded, and agreed.
    expect(console.locator("#consent-line")).to_contain_text("当事人已阅读并同意录音录像告知")

    if reconnect:
        # The party's connection drops; the page reconnects by itself and the same operator
        # sends a new offer: a new peer connection, and frames again.
        first_peer = party.evaluate_handle("window.kuaichuPeer")
        before_drop(party)
        party.evaluate("window.kuaichuParty.socket.ws.close()")
        party.wait_for_function("(old) => window.kuaichuPeer !== old", arg=first_peer, timeout=20_000)
        until_true(party, FRAMES_ARRIVE, what="frames")
        until_true(console, FRAMES_ARRIVE, what="frames")

    # Collection: facts, then the parties; the registries fill in 李娜 from her plate.
    console.fill("#address", "西湖区文三路与学院路交叉口")
    console.select_option("#accident-type", "rear_end")  # the list's code; the operator reads its label
    expect(console.locator("#accident-type option:checked")).to_have_text("追尾")
    fill_party(console, 1, PARTY_PHONE, "浙A12345", "张伟", "123")
    console.fill('[name="plate_number-2"]', "浙A54321")
    console.click('fieldset[data-party="2"] .lookup')
    expect(console.locator('[name="name-2"]')).to_have_value("李娜")
    expect(console.locator('[name="policy_number-2"]')).to_have_value(re.compile(r"^PDZA"))
    expect(console.locator('fieldset[data-party="2"] .lookup-result')).to_contain_text("小型轿车")
    expect(console.locator('fieldset[data-party="2"] .lookup-result')).to_contain_text("中国太平洋财产保险")
    number = id_number(serial="456")
    console.fill('[name="phone-2"]', OTHER_PHONE)
    console.fill('[name="id_number-2"]', number)
    console.fill('[name="licence_number-2"]', number)
    console.check('[name="act-2"][value="rear_end"]')  # 李娜 ran into 张伟 from behind

    # 自动核验 as soon as the parties are saved; then the eligibility questions.
    console.click("#save-parties")
    expect(console.locator("#checks li.passed")).to_have_count(6)
    console.click("#check-eligibility")
    expect(console.locator("#eligibility")).to_contain_text("符合快处条件")
    console.screenshot(path=str(artifacts / f"{name}-console-checks.png"))

    # The stills the gate asks for, each vehicle's own: key 1 takes the side-by-side shot,
    # the list takes the others; the party sees them ticked.
    expect(console.locator("#stills .still")).to_have_count(6)
    console.locator("body").press("1")
    expect(party.locator("#checklist li.done")).to_have_count(1, timeout=15_000)
    expect(party.locator("#checklist li.done")).to_contain_text("并排同框")
    for key in ("vehicle_overview:1", "vehicle_overview:2", "collision_point", "plate:1", "plate:2"):
        console.click(f'#stills [data-key="still:{key}"]')
        expect(console.locator(f'#stills [data-key="still:{key}"]')).to_have_class(re.compile("done"))
    expect(party.locator("#checklist li.done")).to_have_count(6, timeout=15_000)
    expect(party.locator("#checklist")).to_contain_text("当事人乙 号牌")
    expect(console.locator("#gate-summary")).to_have_text("采集项目已齐全")
    expect(console.locator("#recording-status")).to_contain_text("已上传", timeout=20_000)
    expect(console.locator("#complete")).to_be_in_viewport(ratio=1)
    party.screenshot(path=str(artifacts / f"{name}-party-call.png"))
    console.screenshot(path=str(artifacts / f"{name}-console-call.png"))

    # Each party signs the record on their own phone before anyone leaves: 张伟 here, 李娜 on
    # hers; the console shows both signatures as they come.
    sign_on_page(party)
    other_signs()
    expect(console.locator('#confirmation-list [data-status="signed"]')).to_have_count(2, timeout=15_000)

    # Collection complete → evacuate: the party's page says so, large.
    console.click("#complete")
    expect(console.locator("#wrapup-view")).to_be_visible()
    expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)
    expect(party.locator("#evacuate-title")).to_have_text("请立即撤离现场")
    party.screenshot(path=str(artifacts / f"{name}-party-evacuate.png"))
    console.screenshot(path=str(artifacts / f"{name}-console-wrapup.png"))

    # And afterwards the progress view with the timeline.
    party.click("#evacuate-ok")
    expect(party.locator("#timeline li").first).to_be_visible()
    expect(party.locator("#timeline")).to_contain_text("已通知撤离现场")
    # The call's recording chunks are one line, with their count.
    recordings = party.locator("#timeline li", has_text="通话录像")
    expect(recordings).to_have_count(1)
    expect(recordings).to_contain_text(re.compile(r"通话录像 \d+ 段"))

    def facts(session: Session) -> tuple[str, list[tuple[str, str, int]], int]:
        case = session.scalars(select(Case).where(Case.reporter_phone == PARTY_PHONE)).one()
        items = session.execute(
            select(EvidenceItem.kind, EvidenceItem.media_type, EvidenceItem.size).where(
                EvidenceItem.case_id == case.id
            )
        ).all()
        takes = session.scalars(
            select(TimelineEvent.id).where(TimelineEvent.case_id == case.id, TimelineEvent.kind == "take")
        ).all()
        return case.state, [tuple(i) for i in items], len(takes)

    state, items, takes = database.write_sync(facts)
    assert state == "evacuated"
    assert takes == 1
    assert {"side_by_side", "vehicle_overview", "collision_point", "plate"} <= {k for k, _, _ in items}
    recordings = [size for kind, media, size in items if kind == "recording" and media == "video/webm"]
    assert recordings and all(size > 1000 for size in recordings)


def reported_case(database: Database) -> int:
    return database.write_sync(
        lambda s: s.scalars(select(Case.id).where(Case.reporter_phone == PARTY_PHONE)).one()
    )


def other_signs_by_api(base_url: str, database: Database) -> None:
    """李娜 signs on her phone, as her page sends it."""
    with httpx.Client(base_url=base_url) as client:
        sign_all_live(client, reported_case(database), party_session(OTHER_PHONE))


def officer_determines(browser: Browser, base_url: str, artifacts: Path) -> None:
    """The workbench: the case waits with its age, the still and the recording play back, the
    officer decides."""
    page = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto("/workbench")
        page.fill("#username", "officer-live")
        page.fill("#password", STAFF_PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#case-rows tr")).to_have_count(1)
        page.click("#case-rows button")
        # The six stills and the two parties' signatures.
        expect(page.locator("#gallery img")).to_have_count(8)
        # The recording's first chunk loaded: a decodable video with a picture size.
        page.wait_for_function("() => document.getElementById('recording').videoWidth > 0", timeout=10_000)
        # The rules engine proposes (rear-end: the following vehicle bears it all), pre-filled.
        expect(page.locator("#proposal")).to_contain_text("追尾")
        expect(page.locator("#shares select").nth(0)).to_have_value("none")
        expect(page.locator("#shares select").nth(1)).to_have_value("full")
        expect(page.locator("#override-label")).to_be_hidden()
        page.locator("#shares select").nth(1).select_option("main")
        expect(page.locator("#override-label")).to_be_visible()  # departing needs a reason
        page.locator("#shares select").nth(1).select_option("full")
        page.fill("#reasoning", "乙车未保持安全车距，追尾甲车")
        page.screenshot(path=str(artifacts / "one-server-workbench.png"))
        page.click("#determination-form button[type=submit]")
        expect(page.locator("#message")).to_contain_text("已作出事故认定")
        expect(page.locator("#case-rows")).to_contain_text("暂无待定责案件")
    finally:
        page.context.close()


def party_applies_for_review(party: Page) -> None:
    """网办进度 afterwards: the responsibility, the signed document, and the review period."""
    party.reload()  # the page comes back to the case's progress by itself
    expect(party.locator("#determination-shares li")).to_have_count(2)
    expect(party.locator("#determination-shares")).to_contain_text("全部责任")
    expect(party.locator("#documents li")).to_have_count(1)
    expect(party.locator("#review-deadline")).to_contain_text("复核申请")
    party.fill("#review-reasons", "对方称我方急刹，请调取路口监控复核")
    party.click("#review-form button[type=submit]")
    expect(party.locator("#message")).to_contain_text("复核申请已提交")
    expect(party.locator("#progress-state")).to_have_text("复核中")


def reviewer_upholds(browser: Browser, base_url: str, artifacts: Path) -> None:
    page = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}).new_page()
    try:
        page.goto("/review")
        page.fill("#username", "reviewer-live")
        page.fill("#password", STAFF_PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#case-rows tr")).to_have_count(1)
        page.click("#case-rows button")
        expect(page.locator("#reasons")).to_contain_text("调取路口监控")
        expect(page.locator("#determination")).to_contain_text("全部责任")
        page.fill("#note", "监控显示乙车未保持安全车距，原认定正确")
        page.screenshot(path=str(artifacts / "one-server-review.png"))
        page.click("#decision-form button[type=submit]")
        expect(page.locator("#message")).to_contain_text("已维持原认定")
    finally:
        page.context.close()


def party_claims(party: Page, artifacts: Path) -> None:
    """One tap sends the claim; the page says which insurer has it."""
    party.reload()
    expect(party.locator("#progress-state")).to_have_text("已出具事故认定书")
    party.click("#claim")
    expect(party.locator("#message")).to_contain_text("已推送至")
    expect(party.locator("#claims li")).to_have_count(1)
    party.screenshot(path=str(artifacts / "one-server-party-outcome.png"), full_page=True)


@requires_chromium
def test_call_on_one_server(browser: Browser, tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1, recording_chunk_seconds="2") as (server,),
            call_pages(browser, server.url, server.url) as (party, console),
        ):
            run_call(
                party,
                console,
                database,
                artifacts_dir,
                "one-server",
                auto_offer=False,
                reconnect=True,
                other_signs=lambda: other_signs_by_api(server.url, database),
            )
            officer_determines(browser, server.url, artifacts_dir)
            party_applies_for_review(party)
            reviewer_upholds(browser, server.url, artifacts_dir)
            party_claims(party, artifacts_dir)
    finally:
        database.dispose()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


@requires_chromium
@requires_postgres
@pytest.mark.postgres
def test_call_across_two_server_processes(
    browser: Browser, tmp_path: Path, artifacts_dir: Path, fresh_postgres: str, live_redis: str
) -> None:
    """Party on one process, operator on another; the offer and signaling cross via Redis."""
    database = prepare_database(fresh_postgres)
    try:
        with (
            servers(tmp_path / "data", fresh_postgres, 2, live_redis, recording_chunk_seconds="2") as (a, b),
            call_pages(browser, a.url, b.url) as (party, console),
        ):
            run_call(
                party,
                console,
                database,
                artifacts_dir,
                "two-servers",
                auto_offer=True,
                reconnect=False,
                other_signs=lambda: other_signs_by_api(a.url, database),
            )
    finally:
        database.dispose()
