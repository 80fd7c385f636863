"""The party page after retention: years after the case closed, 张伟 logs in by SMS, still
opens the case, reads 已按规定期限删除 where the photos and the parties' data were, and
downloads his own case data as JSON (个人信息保护法 art. 45, 47)."""

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import requires_chromium
from live import login_code, party_context_page
from live_casework import ZHANG, determined_case, live_server, party_login
from playwright.sync_api import Browser, expect

from kuaichu.clock import SystemClock
from kuaichu.evidence.storage import LocalEvidenceStore
from kuaichu.retention.service import RetentionPolicy, run_retention
from kuaichu.reviews.service import close_final_cases
from kuaichu.settings import Settings

PURGED = "已按规定期限删除"


@requires_chromium
@pytest.mark.slow
def test_the_party_page_shows_what_was_deleted_and_downloads_my_data(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        case = determined_case(client, party_login(client, database, ZHANG))

        # Years pass, as the scheduled jobs see them: the case closes, every period runs out.
        settings = Settings(data_dir=tmp_path / "data")  # the server's: the same phone-key secret
        policy = RetentionPolicy.from_settings(settings)
        closed_at = SystemClock().now() + timedelta(days=6)
        assert database.write_sync(lambda s: close_final_cases(s, closed_at)) == 1
        later = closed_at + timedelta(days=policy.personal_data_days + 1)
        store = LocalEvidenceStore(settings.evidence_dir)
        # The job's own loop, off Playwright's (which runs in this thread).
        with ThreadPoolExecutor(1) as job:
            purges = job.submit(lambda: asyncio.run(run_retention(database, store, policy, later)))
            assert len(purges.result()) == 3

        page = party_context_page(browser, server.url)
        page.goto("/party")
        page.fill("#phone", ZHANG)
        since = SystemClock().now()
        page.click("#send-code")
        page.fill("#code", login_code(database, ZHANG, since))
        page.click("#login")
        page.get_by_role("button", name=re.compile(case.number)).click()

        expect(page.locator("#progress-state")).to_have_text("已办结")
        expect(page.locator("#retention")).to_contain_text(f"现场照片：{PURGED}")
        expect(page.locator("#retention")).to_contain_text(f"当事人个人信息：{PURGED}")
        expect(page.locator("#determination-shares")).to_contain_text(f"当事人甲（个人信息{PURGED}）：无责任")
        expect(page.locator("#timeline")).to_contain_text(f"上传现场证据（接警坐席），{PURGED}")
        expect(page.locator("#documents li")).to_have_count(1)  # the signed document stays
        # The page's socket may watch the case too (its one-time ticket carries the phone's key).
        page.wait_for_function("() => window.kuaichuParty && window.kuaichuParty.watching !== null")
        page.wait_for_timeout(500)
        expect(page.locator("#message")).not_to_contain_text("无权查看")
        page.screenshot(path=str(artifacts_dir / "retention-party.png"), full_page=True)

        with page.expect_download() as downloading:
            page.click("#download-my-data")
        download = downloading.value
        assert download.suggested_filename == f"事故{case.number}-我的数据.json"
        data = json.loads(Path(download.path()).read_text())
        assert data["case"]["number"] == case.number and data["party"]["phone"] == "138****0001"
        assert [k["status_label"] for k in data["retention"]["kinds"]] == [PURGED] * 3
        assert data["evidence"] and all(e["status_label"] == PURGED for e in data["evidence"])
        page.context.close()
