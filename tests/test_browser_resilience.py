"""A driver is never stranded, in Chromium against a live server: one case however often the
button is tapped or however many tabs are open; a reload lands where the case is (queued, in
the call, evacuate, progress); the progress view follows the officer live; warnings about a
refused camera or location stay on the page through socket traffic; outside service hours
the party is told to call 122."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, XIHU, requires_chromium
from live import login_code, prepare_database, servers
from live_casework import ZHANG, collect_and_evacuate, determine, live_server, login, party_login
from playwright.sync_api import Browser, BrowserContext, Page, expect

from kuaichu.clock import SHANGHAI, SystemClock
from kuaichu.db import Database


def phone_context(browser: Browser, base_url: str, permissions: list[str]) -> BrowserContext:
    return browser.new_context(
        base_url=base_url,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": XIHU["lat"], "longitude": XIHU["lng"]},
        permissions=permissions,
        locale="zh-CN",
    )


def logs_in(page: Page, database: Database, phone: str) -> None:
    page.goto("/party")
    page.fill("#phone", phone)
    since = SystemClock().now()
    page.click("#send-code")
    # The code's countdown starts at once; the button can't be pressed again meanwhile.
    expect(page.locator("#send-code")).to_contain_text("秒后重新获取")
    expect(page.locator("#send-code")).to_be_disabled()
    page.fill("#code", login_code(database, phone, since))
    page.click("#login")


def token_of(page: Page) -> dict[str, str]:
    token = page.evaluate("sessionStorage.getItem('kuaichu.party.token')")
    return {"Authorization": f"Bearer {token}"}


def socket_frames(page: Page) -> list[str]:
    """What the page's WebSocket receives, as the browser sees it (no change to the page);
    the answers to the page's own keep-alive pings left out."""
    frames: list[str] = []

    def received(payload: str | bytes) -> None:
        if '"pong"' not in str(payload):
            frames.append(str(payload))

    page.on("websocket", lambda ws: ws.on("framereceived", received))
    return frames


@requires_chromium
@pytest.mark.slow
def test_one_case_however_tapped_and_a_reload_lands_where_the_case_is(
    browser: Browser, tmp_path: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        context = phone_context(browser, server.url, ["geolocation", "camera", "microphone"])
        try:
            party = context.new_page()
            logs_in(party, database, ZHANG)
            # First call: the notice of what is recorded, read and agreed once.
            party.click("#report")
            expect(party.locator("#privacy-text")).to_contain_text("谁会看到")
            party.click("#consent-agree")
            expect(party.locator("#wait-view")).to_be_visible()

            # 取消报警 asks first; 返回 keeps the case.
            party.click("#abandon")
            expect(party.locator("#confirm-dialog")).to_contain_text("确定取消本次报警吗")
            party.click("#confirm-no")
            expect(party.locator("#wait-view")).to_be_visible()
            party.click("#abandon")
            party.click("#confirm-yes")
            expect(party.locator("#home-view")).to_be_visible()
            expect(party.locator("#message")).to_have_text("已取消报警")

            # On a slow network a double tap: the button is busy after the first, one case.
            cdp = context.new_cdp_session(party)
            slow = {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1}
            cdp.send("Network.emulateNetworkConditions", slow)
            party.locator("#report").dblclick()
            expect(party.locator("#report")).to_have_attribute("aria-busy", "true")
            expect(party.locator("#wait-view")).to_be_visible(timeout=15_000)
            cdp.send("Network.emulateNetworkConditions", {**slow, "latency": 0})
            reporter = token_of(party)
            active = client.get("/api/calls/active", headers=reporter).json()
            cases = client.get("/api/cases", headers=reporter).json()
            assert [c["state"] for c in cases].count("queued") == 1, cases

            # A second tab: logged in again, it opens on the same case; reporting from it
            # answers that case too.
            second = context.new_page()
            logs_in(second, database, ZHANG)
            expect(second.locator("#wait-view")).to_be_visible()
            again = client.post("/api/calls", json=XIHU, headers=token_of(second))
            assert again.status_code == 200 and again.json()["case_id"] == active["case_id"], again.text
            second.close()

            # Queued → reload → queued.
            party.reload()
            expect(party.locator("#wait-view")).to_be_visible()
            # Nobody is on duty yet: said plainly, with 122, instead of a made-up wait.
            expect(party.locator("#wait-service-text")).to_contain_text("没有接警员在岗")
            expect(party.locator('#wait-service a[href="tel:122"]')).to_be_visible()
            expect(party.locator("#queue-numbers")).to_be_hidden()

            # The operator takes it: the call; reload → the call again.
            operator = login(client, "op-live")
            taken = client.post("/api/calls/take-next", headers=operator)
            assert taken.status_code < 300, taken.text
            expect(party.locator("#call-view")).to_be_visible(timeout=15_000)
            party.reload()
            expect(party.locator("#call-view")).to_be_visible()

            # Collected and evacuated: the large 撤离 screen; reload → still that screen.
            collect_and_evacuate(client, operator, active["case_id"])
            expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)
            party.reload()
            expect(party.locator("#evacuate-view")).to_be_visible()
            party.click("#evacuate-ok")

            # Progress: the tracker at 定责 with the 8-minute target; reload → progress.
            expect(party.locator("#steps li.current")).to_have_text("定责")
            expect(party.locator("#next-step")).to_contain_text("分钟内作出认定")
            party.reload()
            expect(party.locator("#progress-view")).to_be_visible()
            expect(party.locator("#claim-card")).to_be_hidden()

            # The officer determines; the open page follows without a reload.
            determine(client, login(client, "officer-live"), active["case_id"])
            expect(party.locator("#determination-shares li")).to_have_count(2, timeout=15_000)
            expect(party.locator("#determination-shares")).to_contain_text("无责任")
            expect(party.locator("#steps li.done")).to_have_count(5)
            expect(party.locator("#steps li.current")).to_have_text("复核/理赔")

            # One tap on the claim: the button goes, the claim stays listed.
            party.click("#claim")
            expect(party.locator("#claims li")).to_have_count(1)
            expect(party.locator("#claim")).to_be_hidden()

            # Logging out forgets the login: a reload shows the login form.
            party.click("#logout")
            expect(party.locator("#login-view")).to_be_visible()
            party.reload()
            expect(party.locator("#login-view")).to_be_visible()
        finally:
            context.close()


@contextmanager
def browser_that_asks(browser: Browser) -> Iterator[Browser]:
    """Chromium with its fake camera and microphone but without the flag that accepts every
    prompt: what a context was not granted, it refuses (headless, nobody answers a prompt)."""
    asking = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    )
    try:
        yield asking
    finally:
        asking.close()


@requires_chromium
def test_warnings_about_camera_and_location_stay_through_socket_traffic(
    browser: Browser, tmp_path: Path
) -> None:
    with live_server(tmp_path) as (server, client, database), browser_that_asks(browser) as asking:
        # The microphone allowed; no location, no camera.
        context = phone_context(asking, server.url, ["microphone"])
        try:
            party = context.new_page()
            frames = socket_frames(party)
            logs_in(party, database, "13800003333")

            # Location refused: a banner, and the district and place typed by hand.
            party.click("#report")
            party.click("#consent-agree")
            expect(party.locator('#banners [data-banner="location"]')).to_contain_text("无法获取您的位置")
            expect(party.locator("#manual-location")).to_be_visible()
            party.select_option("#manual-district", label="西湖区")
            party.fill("#manual-address", "文三路与学院路交叉口")
            party.click("#manual-location button[type=submit]")
            expect(party.locator("#wait-view")).to_be_visible()
            camera = party.locator('#banners [data-banner="camera"]')
            expect(camera).to_contain_text("无法打开摄像头")

            # Ten more callers in the same district: each one is a queue change on the page's socket.
            before = len(frames)
            for i in range(10):
                caller = party_login(client, database, f"1390000{i:04d}")
                client.post("/api/consents", json={"version": privacy_version(client)}, headers=caller)
                response = client.post("/api/calls", json=XIHU, headers=caller)
                assert response.status_code == 201, response.text
            # (Playwright hands the page's events to Python only while Python waits on it.)
            for _ in range(150):
                if len(frames) - before >= 10:
                    break
                party.wait_for_timeout(100)
            assert len(frames) - before >= 10, frames[before:]
            expect(camera).to_contain_text("无法打开摄像头")
            expect(party.locator('#banners [data-banner="location"]')).to_be_visible()
            expect(party.locator("#position")).to_have_text("0")  # still first in the queue
        finally:
            context.close()


def privacy_version(client: httpx.Client) -> str:
    return client.get("/api/privacy-notice").json()["version"]


@requires_chromium
def test_outside_service_hours_the_party_is_told_to_call_122(browser: Browser, tmp_path: Path) -> None:
    # Service hours that began an hour from now and end two hours from now (Shanghai time).
    now = datetime.now(SHANGHAI)
    start, end = (now + timedelta(hours=1)).strftime("%H:00"), (now + timedelta(hours=2)).strftime("%H:00")
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with servers(tmp_path / "data", url, 1, service_hours_start=start, service_hours_end=end) as (
            server,
        ):
            context = phone_context(browser, server.url, ["geolocation", "camera", "microphone"])
            try:
                party = context.new_page()
                logs_in(party, database, ZHANG)
                expect(party.locator("#service-card")).to_be_visible()
                expect(party.locator("#service-text")).to_contain_text("122")
                expect(party.locator('#service-card a[href="tel:122"]')).to_be_visible()
            finally:
                context.close()
    finally:
        database.dispose()
