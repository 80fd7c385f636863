"""The officer's workbench in a real browser (issue 8): the case found by its plate, the
operator's override shown with its reason, a determination refused without 认定理由 and then
made with one; the document the parties get prints it, with 甲/乙 and the registry's policy."""

import re
import subprocess
from datetime import datetime
from pathlib import Path

import httpx
from conftest import STAFF_PASSWORD, requires_chromium
from live import LiveServer
from live_casework import (
    PLATE_COVERED,
    REASONING,
    ZHANG,
    collected_case,
    issued_document,
    live_server,
    party_login,
)
from playwright.sync_api import Browser, Page, expect

from kuaichu.clock import SHANGHAI
from kuaichu.db import Database


def officer_page(browser: Browser, server: LiveServer) -> Page:
    page = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768}).new_page()
    page.goto("/workbench")
    page.fill("#username", "officer-live")
    page.fill("#password", STAFF_PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#list-view")).to_be_visible()
    return page


@requires_chromium
def test_the_officer_finds_the_case_by_plate_sees_the_override_and_must_give_reasoning(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        walk_the_workbench(browser, server, client, database, tmp_path, artifacts_dir)


def walk_the_workbench(
    browser: Browser,
    server: LiveServer,
    client: httpx.Client,
    database: Database,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    case = collected_case(client, party_login(client, database, ZHANG))
    page = officer_page(browser, server)

    page.fill("#search-q", "浙A54321")
    page.click("#search-form button")
    found = page.locator("#search-rows tr", has_text=case.number)
    expect(found).to_contain_text("乙 李娜")
    found.get_by_role("button", name="打开").click()

    expect(page.locator("#case-number")).to_have_text(case.number)
    # The facts as the catalogue says them (追尾, 晴, 小型轿车), never the codes stored.
    facts = page.locator("#facts")
    expect(facts).to_contain_text("小型轿车")
    expect(facts.locator("dd", has_text=re.compile(r"^晴$"))).to_have_count(1)
    for code in ("rear_end", "clear", "K33"):
        expect(facts).not_to_contain_text(code)
    override = page.locator("#overrides li")
    expect(override).to_have_count(1)
    expect(override).to_contain_text("缺少当事人2（李娜）号牌照片")
    expect(override).to_contain_text(PLATE_COVERED)
    expect(page.locator("#checks li", has_text="乙 李娜（浙A54321） 交强险")).to_contain_text("PDZA")
    expect(page.locator("#eligibility")).to_have_text("符合快处条件")
    expect(page.locator("#acts li").nth(1)).to_contain_text("同车道追尾前车；碰撞部位：车头")
    expect(page.locator("#gallery figcaption").first).to_contain_text("车辆并排同框")
    expect(page.locator("#gallery figcaption", has_text="当事人2 车辆全貌")).to_have_count(1)
    expect(page.locator("#proposal")).to_contain_text("追尾的后车负全部责任")

    # No 认定理由: the server refuses, the page says so beside the field, nothing is decided.
    page.click("#determination-form button[type=submit]")
    expect(page.locator("#reasoning-error")).to_contain_text("请填写认定理由")
    assert client.get(f"/api/cases/{case.id}", headers=case.reporter).json()["state"] == "evacuated"
    page.screenshot(path=str(artifacts_dir / "workbench.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366

    page.fill("#reasoning", REASONING)
    page.click("#determination-form button[type=submit]")
    expect(page.locator("#message")).to_contain_text("已作出事故认定")
    document = issued_document(client, case.reporter, case.id)
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(client.get(document["download_url"], headers=case.reporter).content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    flat = "".join(text.split())
    assert f"认定理由：{REASONING}" in flat
    assert "甲张伟" in flat and "乙李娜" in flat
    year = datetime.now(SHANGHAI).year
    assert f"PDZA{year}33010600002" in flat  # 李娜's policy, as the insurance registry has it
    assert f"/verify/{document['number']}" in flat
