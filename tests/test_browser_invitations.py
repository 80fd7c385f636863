"""Another party joins by the case's link, in real browsers (issue 12): the reporting party's
call screen shows the join QR code and link; a second phone opens the link, logs in with its
SMS code and waits; the operator admits them from the console as the next party, and their
page then shows the case. Fake media, no media server: the call stays one to one."""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from conftest import STAFF_PASSWORD, requires_chromium
from factories import id_number
from live import (
    FRAMES_ARRIVE,
    call_pages,
    fill_party,
    login_code,
    party_context_page,
    prepare_database,
    servers,
    until_true,
    wait_until,
)
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.clock import SystemClock
from kuaichu.db import Database
from kuaichu.notify.models import SmsMessage

REPORTER_PHONE = "13800001111"
JOINING_PHONE = "13900002222"


def log_in(page: Page, database: Database, phone: str) -> None:
    page.fill("#phone", phone)
    since = SystemClock().now()
    page.click("#send-code")
    page.fill("#code", login_code(database, phone, since))
    page.click("#login")


def operator_takes_the_call(party: Page, console: Page, database: Database) -> None:
    console.goto("/console")
    console.fill("#username", "op-live")
    console.fill("#password", STAFF_PASSWORD)
    console.click("#login-form button[type=submit]")
    console.click("#go-available")
    expect(console.locator("#me-status")).to_have_text("空闲")
    party.goto("/party")
    log_in(party, database, REPORTER_PHONE)
    party.click("#report")
    party.click("#consent-agree")
    expect(console.locator("#call-view")).to_be_visible()
    expect(party.locator("#call-view")).to_be_visible()


@requires_chromium
def test_a_second_party_joins_by_the_qr_code(browser, tmp_path: Path, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            call_pages(browser, server.url, server.url) as (reporter, console),
        ):
            operator_takes_the_call(reporter, console, database)

            # The reporting party's screen: the join QR code (the server's SVG) and the link.
            expect(reporter.locator("#join-code")).to_be_visible()
            expect(reporter.locator("#join-qr")).to_have_attribute("src", re.compile(r"^blob:"))
            reporter.wait_for_function("document.getElementById('join-qr').naturalWidth > 0")
            link = reporter.locator("#join-link")
            expect(link).to_have_text(re.compile(r"/party#join=[A-Za-z0-9_-]{43}$"))
            reporter.screenshot(path=str(artifacts_dir / "join-reporter-qr.png"), full_page=True)

            # The operator records the reporting party first, as in any call.
            fill_party(console, 1, REPORTER_PHONE, "浙A12345", "张伟", "123")
            console.click("#save-parties")
            expect(console.locator("#checks li.passed")).to_have_count(3)

            joins_by_the_link(
                browser, server.url, reporter, console, database, artifacts_dir, LI_NA_JOINS, checks_passed=6
            )
    finally:
        database.dispose()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


@dataclass(frozen=True)
class Joining:
    """A driver who joins by the link: their phone, and what the operator types for them."""

    phone: str
    position: int
    plate: str
    name: str
    serial: str


LI_NA_JOINS = Joining(JOINING_PHONE, 2, "浙A54321", "李娜", "456")
# The third vehicle's driver, whom the registry knows by her plate.
CHEN_JING_JOINS = Joining("13500000005", 3, "浙A6C789", "陈静", "654")


def joins_by_the_link(  # type: ignore[no-untyped-def]
    browser,
    server_url: str,
    reporter: Page,
    console: Page,
    database: Database,
    artifacts_dir: Path,
    driver: Joining,
    checks_passed: int | None = None,
) -> None:
    """Another phone opens the reporter's link, logs in by SMS code and waits; the operator
    types their details in the next party form and admits them; their page shows the case."""
    link = reporter.locator("#join-link")
    joining = party_context_page(browser, server_url)
    try:
        # The link's address is the configured public one; here the same path on this server.
        joining.goto(link.inner_text().split("/", 3)[3])
        expect(joining.locator("#join-invite")).to_be_visible()
        assert "#join=" not in joining.url, "the token leaves the address bar"
        log_in(joining, database, driver.phone)
        expect(joining.locator("#join-view")).to_be_visible()

        # The console sees them waiting, the phone masked; the operator types their details in
        # the next party form (the registry fills in the name) and admits them.
        request = console.locator("#join-requests li").filter(has_text=driver.phone[:3] + "****")
        expect(request).to_contain_text(driver.phone[:3] + "****" + driver.phone[-4:])
        expect(request).to_contain_text("等待接入")
        position = driver.position
        console.fill(f'[name="plate_number-{position}"]', driver.plate)
        console.click(f'fieldset[data-party="{position}"] .lookup')
        expect(console.locator(f'[name="name-{position}"]')).to_have_value(driver.name)
        number = id_number(serial=driver.serial)
        console.fill(f'[name="id_number-{position}"]', number)
        console.fill(f'[name="licence_number-{position}"]', number)
        console.screenshot(path=str(artifacts_dir / f"join-console-waiting-{position}.png"), full_page=True)
        request.get_by_role("button", name=f"接入为第{position}方").click()
        expect(request).to_contain_text("已接入")
        expect(console.locator(f'[name="phone-{position}"]')).to_have_value(driver.phone)
        if checks_passed is not None:  # their own registry checks, beside the others'
            expect(console.locator("#checks li.passed")).to_have_count(checks_passed)

        # Their page now shows the case; the operator speaks with them by the reporter's call.
        expect(joining.locator("#progress-view")).to_be_visible()
        case_number = console.locator("#case-number").inner_text()
        expect(joining.locator("#progress-number")).to_have_text(case_number)
        expect(joining.locator("#joined-note")).to_be_visible()
        joining.screenshot(path=str(artifacts_dir / f"join-party-{position}.png"), full_page=True)
    finally:
        joining.context.close()


@requires_chromium
def test_a_third_vehicles_driver_joins_by_the_link(browser, tmp_path: Path, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Three vehicles: the operator records the first two drivers; the third joins by the link
    and is admitted as party 3 (the jurisdiction allows three)."""
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            call_pages(browser, server.url, server.url) as (reporter, console),
        ):
            operator_takes_the_call(reporter, console, database)
            expect(reporter.locator("#join-link")).to_have_text(re.compile(r"/party#join="))
            fill_party(console, 1, REPORTER_PHONE, "浙A12345", "张伟", "123")
            fill_party(console, 2, JOINING_PHONE, "浙A54321", "李娜", "456")
            console.click("#save-parties")
            expect(console.locator("#checks li.passed")).to_have_count(6)

            joins_by_the_link(
                browser, server.url, reporter, console, database, artifacts_dir, CHEN_JING_JOINS
            )
            parties = console.locator("#parties-form")
            for position, name in ((1, "张伟"), (2, "李娜"), (3, "陈静")):
                expect(parties.locator(f'[name="name-{position}"]')).to_have_value(name)
    finally:
        database.dispose()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def join_sms_link(database: Database, phone: str) -> str:
    """The join link in the SMS the caller got (the path: the public address is configured)."""

    def read(session: Session) -> str | None:
        texts = session.scalars(select(SmsMessage.text).where(SmsMessage.phone == phone))
        found = next((re.search(r"/party#join=[A-Za-z0-9_-]{43}", t) for t in texts if "#join=" in t), None)
        return found[0] if found else None

    return wait_until(lambda: database.write_sync(read), what=f"the join SMS to {phone}")


@requires_chromium
def test_a_122_caller_without_the_app_gets_the_link_and_the_call(  # type: ignore[no-untyped-def]
    browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    try:
        with (
            servers(tmp_path / "data", url, 1) as (server,),
            call_pages(browser, server.url, server.url) as (caller, console),
        ):
            console.goto("/console")
            console.fill("#username", "op-live")
            console.fill("#password", STAFF_PASSWORD)
            console.click("#login-form button[type=submit]")
            expect(console.locator("#queue-view")).to_be_visible()
            console.fill("#caller-phone", REPORTER_PHONE)
            console.fill("#caller-place", "西湖区文三路与学院路交叉口")
            console.click("#phone-report-form button[type=submit]")
            expect(console.locator("#call-view")).to_be_visible()
            expect(console.locator("#address")).to_have_value("西湖区文三路与学院路交叉口")

            # The driver opens the SMS's link in the phone's browser and logs in: their own case,
            # in the call with the operator, real frames both ways.
            caller.goto(join_sms_link(database, REPORTER_PHONE))
            log_in(caller, database, REPORTER_PHONE)
            expect(caller.locator("#call-view")).to_be_visible()
            expect(caller.locator("#message")).to_contain_text("您是本案的报警人")
            until_true(caller, FRAMES_ARRIVE, what="frames on the caller's phone")
            until_true(console, FRAMES_ARRIVE, what="frames on the console")
            caller.screenshot(path=str(artifacts_dir / "join-122-caller.png"), full_page=True)
    finally:
        database.dispose()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
