"""The whole party flow in the phone's language (issue 11), in Chromium with a fake camera.

张伟's phone, set to English or to Chinese, logs in by SMS, agrees to the recording notice,
reports with one tap, waits, is in the video call while the operator collects, leaves the
scene when told, reads the determination, asks for a review and reads its outcome, sends the
claim, and confirms the settlement another driver proposed. On every screen nothing is in the
other language (see reading.py): on the English phone no Chinese but names, plates, 甲/乙 and
text marked as Chinese; on the Chinese phone no Latin word but plates and units.
"""

from pathlib import Path

import pytest
from conftest import requires_chromium
from factories import sign_all_live
from live import FRAMES_ARRIVE, call_pages, login_code, staff_logs_in, until_true
from live_casework import (
    LI_NA,
    STILLS,
    ZHANG,
    collect,
    complete,
    determine,
    live_server,
    login,
    party_login,
    party_session,
    settlement,
)
from playwright.sync_api import Browser, Page, expect
from reading import stray_words
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_insurer
from kuaichu.clock import SystemClock
from kuaichu.demo.seed import INSURERS
from kuaichu.messages import Locale, negotiate, text

# Names, of people and of insurers, as registered: the same in every language.
NAMES = ("张伟", "李娜", *(name for _, name in INSURERS))
REVIEW_REASONS = {
    Locale.EN: "The other driver braked hard in front of me; please check the junction camera.",
    Locale.ZH_CN: "对方在我前方急刹，请调取路口监控复核",
}
REVIEW_NOTE = "原认定事实清楚，责任划分适当，予以维持"  # the reviewer writes Chinese


class Screens:
    """Reads each screen the party meets and keeps what is not in the page's language."""

    def __init__(self, page: Page, artifacts: Path, phone_locale: str) -> None:
        self.page = page
        self.artifacts = artifacts
        self.phone_locale = phone_locale
        self.problems: list[str] = []

    def read(self, screen: str) -> None:
        stray = stray_words(self.page, NAMES)
        if stray:
            self.problems.append(f"{screen}: {stray}")
        name = f"party-flow-{self.phone_locale}-{screen.replace(' ', '-')}.png"
        self.page.screenshot(path=str(self.artifacts / name), full_page=True)


def register_insurers(session: Session) -> None:
    """The insurers a claim goes to, as production has them (the party page names them)."""
    for code, name in INSURERS:
        create_insurer(session, code=code, name=name, webhook_url=None, now=SystemClock().now())


@requires_chromium
@pytest.mark.parametrize("phone_locale", ["en-US", "zh-CN"])
def test_every_screen_of_the_party_flow_reads_in_the_phones_language(
    browser: Browser, tmp_path: Path, artifacts_dir: Path, phone_locale: str
) -> None:
    locale = negotiate(phone_locale)
    with (
        live_server(tmp_path) as (server, client, database),
        call_pages(browser, server.url, server.url, phone_locale) as (party, console),
    ):
        database.write_sync(register_insurers)
        screens = Screens(party, artifacts_dir, phone_locale)
        party.goto("/party")
        expect(party.locator("html")).to_have_attribute("lang", locale.value)
        screens.read("login")

        party.fill("#phone", ZHANG)
        since = SystemClock().now()
        party.click("#send-code")
        expect(party.locator("#message")).to_have_text(text("Party.code_sent", locale))
        screens.read("code sent")
        code = login_code(database, ZHANG, since)
        # A refusal from the server is said in the page's language too.
        party.fill("#code", f"{(int(code) + 1) % 1_000_000:06d}")
        party.click("#login")
        expect(party.locator("#message")).to_have_text(text("Auth.code_wrong", locale))
        screens.read("wrong code")
        party.fill("#code", code)
        party.click("#login")
        # Nobody is on duty yet: the page says so, with 122.
        expect(party.locator("#service-card")).to_be_visible()
        screens.read("home")

        party.click("#report")
        expect(party.locator("#privacy-text p").first).to_be_visible()
        screens.read("recording notice")
        party.click("#consent-agree")
        expect(party.locator("#wait-view")).to_be_visible()
        expect(party.locator("#wait-service")).to_be_visible()
        screens.read("waiting")

        operator = {"Authorization": f"Bearer {staff_logs_in(console, '/console', 'op-live')}"}
        console.click("#take-next")
        expect(party.locator("#call-view")).to_be_visible(timeout=15_000)
        until_true(party, FRAMES_ARRIVE, what="the operator's picture on the phone")
        until_true(console, FRAMES_ARRIVE, what="the phone's picture on the console")
        expect(party.locator("#call-state")).to_have_attribute("data-state", "connected")
        screens.read("call")

        # The operator records the case; the still taken on the console (key 1, side by side)
        # sends the party the list of stills, each vehicle's own, with what is still missing.
        case_id = client.get("/api/calls/current", headers=operator).json()["case_id"]
        collect(client, operator, case_id, stills=tuple(s for s in STILLS if s[0] != "side_by_side"))
        console.locator("body").press("1")
        expect(party.locator("#checklist li.done")).to_have_count(len(STILLS), timeout=15_000)
        screens.read("call with the stills taken")
        complete(client, operator, case_id)
        screens.read("collected")

        sign_all_live(client, case_id, party_session(ZHANG), party_session(LI_NA))
        client.post(f"/api/cases/{case_id}/evacuate", headers=operator).raise_for_status()
        expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)
        screens.read("leave the scene")
        party.click("#evacuate-ok")
        expect(party.locator("#progress-view")).to_be_visible()
        expect(party.locator("#timeline li").first).to_be_visible()
        screens.read("progress while the officer determines")

        determine(client, login(client, "officer-live"), case_id)
        expect(party.locator("#determination-shares li")).to_have_count(2, timeout=15_000)
        expect(party.locator("#documents li")).to_have_count(1)
        screens.read("determined")

        party.fill("#review-reasons", "why")  # too short: the server's 422, in the page's language
        party.click("#review-form button[type=submit]")
        expect(party.locator("#message")).to_contain_text(text("Field.reasons", locale))
        screens.read("review reasons too short")
        party.fill("#review-reasons", REVIEW_REASONS[locale])
        party.click("#review-form button[type=submit]")
        expect(party.locator("#progress-state")).to_have_text(text("CaseState.under_review", locale))
        screens.read("review requested")

        decision = {"outcome": "upheld", "note": REVIEW_NOTE}
        reviewer = login(client, "reviewer-live")
        decided = client.post(f"/api/cases/{case_id}/review/decision", json=decision, headers=reviewer)
        assert decided.status_code < 300, decided.text
        expect(party.locator("#review-outcome-text")).to_contain_text(
            text("ReviewOutcome.upheld", locale), timeout=15_000
        )
        screens.read("review upheld")

        party.click("#claim")
        expect(party.locator("#claims li")).to_have_count(1)
        screens.read("claim sent")

        # 李娜 proposes, of another accident, that the two settle it between themselves.
        proposed = settlement(client, party_login(client, database, LI_NA))
        party.click("#back-home")
        expect(party.locator("#my-cases li")).to_have_count(2)
        screens.read("home with two cases")
        party.get_by_role("button", name=proposed.number).click()
        expect(party.locator("#agreement-card")).to_be_visible()
        screens.read("settlement proposed")
        party.click("#agreement-confirm")
        expect(party.locator("#progress-state")).to_have_text(text("CaseState.agreed", locale))
        expect(party.locator("#claim")).to_be_visible()
        screens.read("settlement agreed")

    assert screens.problems == [], "\n".join(screens.problems)
