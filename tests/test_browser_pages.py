"""Every page of the flow in Chromium, read as a person reads it: no English word on screen
(beyond the case numbers, plates, IDs, document numbers and units a person expects), nothing
wider than the screen at 1366×768 (a desk) and 390×844 (a phone), and the console's 采集完成
in the first screen during a call. And 王强, whose licence is suspended, cannot be evacuated.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import STAFF_PASSWORD, XIHU, requires_chromium
from factories import JPEG_BYTES, demo_party, sign_all_live
from live import LiveServer, party_logs_in, prepare_database, servers, staff_logs_in
from live_casework import determine, party_session
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_user
from kuaichu.clock import SystemClock, local
from kuaichu.db import Database
from kuaichu.principal import Role
from kuaichu.registries.synthetic import demo_drivers

DESK = {"width": 1366, "height": 768}
PHONE_SCREEN = {"width": 390, "height": 844}
PARTY_PHONE = "13800000001"  # 张伟, the demo driver

# What the page shows a person: visible text with the expected codes taken out, then any word
# in Latin letters; and every visible element reaching past the right edge of the screen.
READ_PAGE = r"""() => {
  const allowed = [
    /[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fff]?/g,  // plates: 浙A12345, 浙AD12345
    /\b\d{17}[\dX]\b/g,                                     // ID and licence numbers
    /\bPDZA\d+\b/g,                                         // policy numbers
    /\b\d+(?:\.\d+)?\s?(?:km|m|s|ms|KB|MB|GB|px)\b/g,      // units
    /\bSHA-256\b|\b[0-9a-f]{64}\b/g,                      // a document's fingerprint
    /\b[0-9a-f]{12}…/g,                                     // a still's, shortened
    /https?:\/\/\S+/g,                                      // a link (the join link)
    /\bPDF\b/g,                                            // the document's file format
  ];
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const words = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "OPTION"].includes(parent.tagName) || !visible(parent)) continue;
    // Text marked as another language is meant (the party page's 中文 / English switch).
    const tagged = parent.closest("[lang]");
    if (tagged && tagged.lang !== document.documentElement.lang) continue;
    let text = node.textContent;
    for (const pattern of allowed) text = text.replace(pattern, " ");
    for (const word of text.match(/[A-Za-z]{2,}/g) || []) words.add(word);
  }
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!visible(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1) {
      const classes = typeof el.className === "string" ? el.className.trim().split(/\s+/) : [];
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        classes.map((c) => "." + c).join("");
      wide.push(`${name} (${Math.round(box.right)}px)`);
    }
  }
  return { words: [...words], wide: wide.slice(0, 8) };
}"""


class Reader:
    """Reads pages at both screen sizes and collects what a person should not meet."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.problems: list[str] = []

    def read(self, page: Page, name: str, sizes: tuple[dict[str, int], ...] = (DESK, PHONE_SCREEN)) -> None:
        original = page.viewport_size
        for size in sizes:
            page.set_viewport_size(size)
            page.wait_for_function("() => document.fonts.ready.then(() => true)")
            found = page.evaluate(READ_PAGE)
            where = f"{name} at {size['width']}×{size['height']}"
            if found["words"]:
                self.problems.append(f"{where}: Latin words {found['words']}")
            if found["wide"]:
                self.problems.append(f"{where}: wider than the screen {found['wide']}")
            page.screenshot(path=str(self.artifacts / f"pages-{name}-{size['width']}.png"))
        if original:
            page.set_viewport_size(original)


def add_supervisor(database: Database) -> None:
    def work(session: Session) -> None:
        create_user(
            session,
            username="supervisor-live",
            password=STAFF_PASSWORD,
            role=Role.SUPERVISOR,
            display_name="监管员",
            now=SystemClock().now(),
        )

    database.write_sync(work)


@contextmanager
def page_at(browser: Browser, server: LiveServer, size: dict[str, int], **options: object) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport=size, locale="zh-CN", **options)  # type: ignore[arg-type]
    try:
        yield context.new_page()
    finally:
        context.close()


def party_page(browser: Browser, server: LiveServer) -> Page:
    context = browser.new_context(
        base_url=server.url,
        viewport=PHONE_SCREEN,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": XIHU["lat"], "longitude": XIHU["lng"]},
        permissions=["geolocation", "camera", "microphone"],
        locale="zh-CN",
    )
    return context.new_page()


def collect_over_the_api(client: httpx.Client, operator: dict[str, str], case_id: int) -> None:
    """What the operator enters in the call (the console's own steps are tested elsewhere)."""
    first, second = demo_party("张伟"), demo_party("李娜")
    facts = {
        "occurred_at": local(SystemClock().now()).isoformat(),
        "address": "西湖区文三路与学院路交叉口",
        "accident_type": "rear_end",
        "weather": "clear",
        "description": "乙车追尾甲车",
    }
    no = dict.fromkeys(client.get("/api/calls/config").json()["catalogues"]["circumstances"], False)
    steps = [
        client.put(f"/api/cases/{case_id}/facts", json=facts, headers=operator),
        client.put(f"/api/cases/{case_id}/parties", json={"parties": [first, second]}, headers=operator),
        client.post(f"/api/cases/{case_id}/checks", headers=operator),
        client.put(f"/api/cases/{case_id}/circumstances", json=no, headers=operator),
        client.put(
            f"/api/cases/{case_id}/liability-facts",
            json={"parties": [{"position": 1, "acts": []}, {"position": 2, "acts": ["rear_end"]}]},
            headers=operator,
        ),
    ]
    stills = [("side_by_side", None), ("collision_point", None)] + [
        (kind, position) for kind in ("vehicle_overview", "plate") for position in (1, 2)
    ]
    for kind, position in stills:
        data = {"kind": kind} | ({"party_position": str(position)} if position else {})
        files = {"file": ("still.jpg", JPEG_BYTES, "image/jpeg")}
        steps.append(client.post(f"/api/cases/{case_id}/evidence", data=data, files=files, headers=operator))
    steps.append(client.post(f"/api/cases/{case_id}/collection-complete", headers=operator))
    for response in steps:
        assert response.status_code < 300, response.text
    # Each party signs the record on their phone; then 撤离.
    sign_all_live(client, case_id, *(party_session(str(p["phone"])) for p in (first, second)))
    client.post(f"/api/cases/{case_id}/evacuate", headers=operator).raise_for_status()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@requires_chromium
def test_every_page_of_the_flow_reads_in_chinese_and_fits_the_screen(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    add_supervisor(database)
    reader = Reader(artifacts_dir)
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            httpx.Client(base_url=server.url) as client,
            page_at(browser, server, DESK, permissions=["camera", "microphone"]) as console,
        ):
            party = party_page(browser, server)
            party_logs_in(party, database, PARTY_PHONE)
            reader.read(party, "party-home")
            party.click("#report")
            # Before the first call: the notice of what is recorded, and the party's agreement.
            expect(party.locator("#privacy-text")).to_contain_text("录音录像")
            party.click("#consent-agree")
            expect(party.locator("#wait-view")).to_be_visible()
            reader.read(party, "party-waiting")

            operator = bearer(staff_logs_in(console, "/console", "op-live"))
            expect(console.locator("#queue-rows tr")).to_have_count(1)
            reader.read(console, "console-queue")
            console.click("#take-next")
            expect(console.locator("#call-view")).to_be_visible()
            expect(party.locator("#call-view")).to_be_visible()
            expect(console.locator("#stills .still")).to_have_count(1)  # the collision point, before parties
            # During a call 采集完成 is on the first screen, whatever the form's length.
            expect(console.locator("#complete")).to_be_in_viewport(ratio=1)
            reader.read(console, "console-call")
            reader.read(party, "party-call")

            case_id = client.get("/api/calls/current", headers=operator).json()["case_id"]
            collect_over_the_api(client, operator, case_id)
            expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)
            reader.read(party, "party-evacuate")
            party.click("#evacuate-ok")
            expect(party.locator("#timeline li").first).to_be_visible()
            reader.read(party, "party-progress")

            with page_at(browser, server, DESK) as workbench:
                officer = bearer(staff_logs_in(workbench, "/workbench", "officer-live"))
                reader.read(workbench, "workbench-list")
                workbench.click("#case-rows button")
                expect(workbench.locator("#proposal")).to_contain_text("追尾")
                reader.read(workbench, "workbench-case")
            determine(client, officer, case_id)
            number = client.get(f"/api/cases/{case_id}", headers=officer).json()["number"]

            party.reload()  # back to the case's progress by itself
            expect(party.locator("#documents li")).to_have_count(1)
            reader.read(party, "party-determined")
            party_token = bearer(party.evaluate("sessionStorage.getItem('kuaichu.party.token')"))
            document = client.get(f"/api/cases/{case_id}/documents", headers=party_token).json()[0]
            applied = client.post(
                f"/api/cases/{case_id}/review",
                json={"reasons": "对方称我方急刹，请调取路口监控复核"},
                headers=party_token,
            )
            assert applied.status_code < 300, applied.text

            with page_at(browser, server, DESK) as review:
                staff_logs_in(review, "/review", "reviewer-live")
                reader.read(review, "review-list")
                review.click("#case-rows button")
                expect(review.locator("#reasons")).to_contain_text("调取路口监控")
                reader.read(review, "review-case")

            with page_at(browser, server, DESK) as supervisor:
                staff_logs_in(supervisor, "/supervisor", "supervisor-live")
                reader.read(supervisor, "supervisor")
                supervisor.fill("#search-q", number)
                supervisor.click("#search-form button")
                found = supervisor.locator("#search-rows tr", has_text=number)
                found.get_by_role("button", name="打开").click()
                expect(supervisor.locator("#replay-timeline li").first).to_be_visible()
                reader.read(supervisor, "supervisor-replay")

            with page_at(browser, server, PHONE_SCREEN) as verify:
                verify.goto(f"/verify/{document['number']}")
                expect(verify.locator("body")).to_contain_text(document["number"])
                reader.read(verify, "verify")
            party.context.close()
    finally:
        database.dispose()
    assert reader.problems == [], "\n".join(reader.problems)


@requires_chromium
def test_wang_qiang_with_a_suspended_licence_cannot_be_evacuated(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    """The console shows why (the registry's answer and art. 13) and offers only 转现场."""
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    wang = next(p for p in demo_drivers(local(SystemClock().now()).date()) if p.name == "王强")
    assert wang.licence.status == "暂扣"
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            page_at(browser, server, DESK, permissions=["camera", "microphone"]) as console,
        ):
            party = party_page(browser, server)
            party_logs_in(party, database, wang.phone)
            party.click("#report")
            # Before the first call: the notice of what is recorded, and the party's agreement.
            expect(party.locator("#privacy-text")).to_contain_text("录音录像")
            party.click("#consent-agree")
            staff_logs_in(console, "/console", "op-live")
            console.click("#take-next")
            expect(console.locator("#call-view")).to_be_visible()

            console.fill("#address", "西湖区文三路与学院路交叉口")
            console.select_option("#accident-type", "rear_end")
            for index, name in ((1, "王强"), (2, "李娜")):
                person = demo_party(name)
                console.fill(f'[name="plate_number-{index}"]', str(person["plate_number"]))
                console.select_option(f'[name="plate_type-{index}"]', str(person["plate_type"]))
                console.click(f'fieldset[data-party="{index}"] .lookup')
                expect(console.locator(f'[name="name-{index}"]')).to_have_value(name)
                for field in ("phone", "id_number", "licence_number"):
                    console.fill(f'[name="{field}-{index}"]', str(person[field]))
            console.click("#save-parties")
            expect(console.locator("#checks li.failed")).to_contain_text("暂扣")
            console.click("#check-eligibility")
            expect(console.locator("#eligibility")).to_contain_text("不符合快处条件")

            # Only the transfer is offered, its reason already written; Ctrl+Enter does nothing.
            expect(console.locator("#complete")).to_be_hidden()
            expect(console.locator("#gate-summary")).to_contain_text("只能转现场处置")
            console.locator("body").press("Control+Enter")
            expect(console.locator("#call-view")).to_be_visible()
            console.click("#transfer-open")
            expect(console.locator("#transfer-reason")).not_to_have_value("")
            console.screenshot(path=str(artifacts_dir / "console-wang-qiang.png"))
            console.click("#transfer")
            expect(console.locator("#wrapup-view")).to_be_visible()
            expect(console.locator("#wrapup-text")).to_contain_text("已转现场处置")
            expect(party.locator("#transfer-view")).to_be_visible(timeout=15_000)
            party.context.close()
    finally:
        database.dispose()


@requires_chromium
def test_a_case_sent_back_is_called_back_with_one_tap_into_the_same_case(
    browser: Browser, tmp_path: Path
) -> None:
    """待补充证据: the party reads the officer's reason, taps 补充视频取证, waits in the queue as
    after the first call, and is in the call again once the operator takes it."""
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            httpx.Client(base_url=server.url) as client,
            page_at(browser, server, DESK, permissions=["camera", "microphone"]) as console,
        ):
            party = party_page(browser, server)
            party_logs_in(party, database, PARTY_PHONE)
            party.click("#report")
            # Before the first call: the notice of what is recorded, and the party's agreement.
            expect(party.locator("#privacy-text")).to_contain_text("录音录像")
            party.click("#consent-agree")
            operator = bearer(staff_logs_in(console, "/console", "op-live"))
            console.click("#take-next")
            expect(console.locator("#call-view")).to_be_visible()
            case_id = client.get("/api/calls/current", headers=operator).json()["case_id"]
            collect_over_the_api(client, operator, case_id)
            expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)
            client.post(f"/api/calls/{case_id}/hangup", headers=operator).raise_for_status()

            login = client.post(
                "/api/auth/staff", json={"username": "officer-live", "password": STAFF_PASSWORD}
            )
            officer = bearer(login.json()["access_token"])
            reason = "请补拍乙车前部碰撞部位的近景"
            sent = client.post(f"/api/cases/{case_id}/send-back", json={"reason": reason}, headers=officer)
            assert sent.status_code == 200, sent.text

            party.click("#evacuate-ok")
            expect(party.locator("#progress-state")).to_contain_text("补充证据")
            expect(party.locator("#send-back-reason")).to_have_text(reason)
            party.click("#call-back")
            expect(party.locator("#wait-view")).to_be_visible()

            console.reload()
            console.click("#ready")  # available again: the waiting call is offered to this console
            expect(console.locator("#call-view")).to_be_visible(timeout=15_000)
            expect(console.locator("#case-number")).to_have_text(
                str(client.get(f"/api/cases/{case_id}", headers=operator).json()["number"])
            )
            expect(party.locator("#call-view")).to_be_visible(timeout=15_000)
            assert client.get("/api/calls/current", headers=operator).json()["case_id"] == case_id
            party.context.close()
    finally:
        database.dispose()
