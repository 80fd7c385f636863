"""The party page in the party's language: a phone set to English opens it in English, reads
its walked case's states, timeline and determination summary in English (the legal document
stays Chinese), and switches to 中文 and back at once; the choice reaches the server, so the
party's SMS follow it."""

import re
from pathlib import Path

from conftest import XIHU, requires_chromium
from live import latest_sms, wait_until
from live_casework import REASONING, ZHANG, collected_case, live_server, login, party_login
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from kuaichu.db import Database
from kuaichu.notify.models import PartyLocale

HAN = re.compile(r"[\u4e00-\u9fff]")
# The visible text of the page in Chinese, but for what is Chinese in any language: the parties'
# names and plates (data), their designations 甲/乙 as the document prints them, and text marked
# as Chinese (the 中文 switch).
VISIBLE_CHINESE = r"""(names) => {
  const allowed = [/[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}/g, /[甲乙丙] \([ABC]\)/g];
  for (const name of names) allowed.push(new RegExp(name, "g"));
  const found = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !parent.checkVisibility({ checkVisibilityCSS: true })) continue;
    const tagged = parent.closest("[lang]");
    if (tagged && tagged.lang !== document.documentElement.lang) continue;
    let text = node.textContent;
    for (const pattern of allowed) text = text.replace(pattern, " ");
    for (const run of text.match(/[\u4e00-\u9fff]+/g) || []) found.add(run);
  }
  return [...found];
}"""


def _english_phone(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        geolocation={"latitude": XIHU["lat"], "longitude": XIHU["lng"]},
        permissions=["geolocation"],
        locale="en-US",
    )
    return context.new_page()


def _chosen_locale(database: Database, phone: str) -> str | None:
    return database.write_sync(
        lambda s: s.scalar(select(PartyLocale.locale).where(PartyLocale.phone == phone))
    )


@requires_chromium
def test_the_party_page_follows_an_english_phone_and_switches_to_chinese_and_back(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        case = collected_case(client, party_login(client, database, ZHANG))
        officer = login(client, "officer-live")
        parties = client.get(f"/api/cases/{case.id}", headers=officer).json()["parties"]
        shares = [
            {"party_id": parties[0]["id"], "responsibility": "none"},
            {"party_id": parties[1]["id"], "responsibility": "full"},
        ]
        body = {"shares": shares, "reasoning": REASONING}
        client.post(f"/api/cases/{case.id}/determination", json=body, headers=officer).raise_for_status()

        page = _english_phone(browser, server.url)
        page.goto("/party")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#login-view h2")).to_have_text("Log in with your mobile number")
        page.fill("#phone", ZHANG)
        page.click("#send-code")
        expect(page.locator("#message")).to_have_text("The code is on its way by SMS")
        text = wait_until(lambda: latest_sms(database, ZHANG), what="the login SMS")
        page.fill("#code", re.findall(r"(\d{6})", text.split("【快处】")[-1])[0])
        page.click("#login")
        page.get_by_role("button", name=re.compile(case.number)).click()

        expect(page.locator("#progress-state")).to_have_text("Determination issued")
        expect(page.locator("#timeline li").first).to_contain_text("Reported by video call")
        assert page.evaluate(VISIBLE_CHINESE, ["张伟", "李娜"]) == []
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
