"""The party page in the party's language: a phone set to English opens it in English, reads
its walked case's states, timeline and determination summary in English (the legal document
stays Chinese), and switches to 中文 and back at once; the choice reaches the server, so the
party's SMS follow it."""

import re
from pathlib import Path

from conftest import requires_chromium
from live import login_code, party_context_page, wait_until
from live_casework import ZHANG, determined_case, live_server, party_login
from playwright.sync_api import Browser, expect
from reading import stray_chinese
from sqlalchemy import select

from kuaichu.clock import SystemClock
from kuaichu.db import Database
from kuaichu.notify.models import PartyLocale


def _chosen_locale(database: Database, phone: str) -> str | None:
    return database.write_sync(
        lambda s: s.scalar(select(PartyLocale.locale).where(PartyLocale.phone == phone))
    )


@requires_chromium
def test_the_party_page_follows_an_english_phone_and_switches_to_chinese_and_back(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        case = determined_case(client, party_login(client, database, ZHANG))

        page = party_context_page(browser, server.url, locale="en-US")
        page.goto("/party")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#login-view h2")).to_have_text("Log in with your mobile number")
        page.fill("#phone", ZHANG)
        since = SystemClock().now()
        page.click("#send-code")
        expect(page.locator("#message")).to_have_text("The code is on its way by SMS")
        page.fill("#code", login_code(database, ZHANG, since))
        page.click("#login")
        page.get_by_role("button", name=re.compile(case.number)).click()

        expect(page.locator("#progress-state")).to_have_text("Determination issued")
        expect(page.locator("#timeline li").first).to_contain_text("Reported by video call")
        assert stray_chinese(page, ["张伟", "李娜"]) == []
        summary = page.locator("#determination-summary")
        expect(summary).to_contain_text(f"Accident {case.number}: determination made on")
        expect(summary).to_contain_text("Party 乙 (B): Full responsibility")
        expect(summary).to_contain_text("The legal text is the Chinese determination.")
        expect(page.locator("#documents")).to_contain_text(f"Open determination {case.number}-1 (In force)")
        assert wait_until(lambda: _chosen_locale(database, ZHANG), what="the chosen locale") == "en"
        page.screenshot(path=str(artifacts_dir / "party-english.png"), full_page=True)

        page.click("#locale-zh")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("#progress-state")).to_have_text("已出具事故认定书")
        expect(page.locator("#progress-view h2")).to_have_text("办理进度")
        expect(summary).to_be_hidden()
        assert wait_until(lambda: _chosen_locale(database, ZHANG) == "zh-CN" or None, what="中文 saved")

        page.reload()  # the choice is remembered on the phone
        expect(page.locator("#progress-state")).to_have_text("已出具事故认定书")
        page.click("#locale-en")
        expect(page.locator("#progress-state")).to_have_text("Determination issued")
        expect(page.locator("#locale-en")).to_have_attribute("aria-pressed", "true")
        page.context.close()
