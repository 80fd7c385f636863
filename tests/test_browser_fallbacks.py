"""Poor network: the party falls back to voice only, or to photo mode (guided upload of the
same shots, handled by an operator without a call). Real browser, real server."""

from pathlib import Path

import httpx
from conftest import requires_chromium
from factories import JPEG_BYTES, sign_all_live
from live import call_pages, fill_party, party_logs_in, prepare_database, servers, staff_logs_in, until_true
from live_casework import party_session
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.cases.models import Case
from kuaichu.db import Database
from kuaichu.evidence.models import EvidenceItem

PHONE = "13800005555"

# Voice arrives from the peer, and no picture does.
VOICE_ONLY = """async () => {
  const pc = window.kuaichuPeer;
  if (!pc) return false;
  const stats = await pc.getStats();
  let audio = 0, frames = 0;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") audio += r.packetsReceived || 0;
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return audio > 20 && frames === 0;
}"""


def _log_in_and_report(party: Page, console: Page, database: Database) -> None:
    staff_logs_in(console, "/console", "op-live")
    expect(console.locator("#queue-view")).to_be_visible()
    party_logs_in(party, database, PHONE)
    party.click("#report")
    # Before the first call: the notice of what is recorded, and the party's agreement.
    expect(party.locator("#privacy-text")).to_contain_text("录音录像")
    party.click("#consent-agree")
    expect(party.locator("#wait-view")).to_be_visible()


@requires_chromium
def test_photo_mode_is_handled_without_a_call(browser: Browser, tmp_path: Path, artifacts_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    with (
        servers(tmp_path / "data", url, 1) as (server,),
        call_pages(browser, server.url, server.url) as pages,
    ):
        party, console = pages
        _log_in_and_report(party, console, database)
        party.click("#photo-mode")
        expect(party.locator("#photo-view")).to_be_visible()
        shots = party.locator("#photo-list li")
        for index in range(shots.count()):
            shots.nth(index).locator("input[type=file]").set_input_files(
                {"name": f"shot-{index}.jpg", "mimeType": "image/jpeg", "buffer": JPEG_BYTES}
            )
            expect(shots.nth(index)).to_have_class("done")
        expect(party.locator("#photo-position")).to_have_text("0")  # still in the queue, first
        party.screenshot(path=str(artifacts_dir / "photo-mode-party.png"))
        # 完成: the photos are handed in; a reload comes back to this, not to the video call.
        party.click("#photo-done")
        expect(party.locator("#photo-submitted")).to_be_visible()
        party.reload()
        expect(party.locator("#photo-view")).to_be_visible()
        expect(party.locator("#photo-submitted")).to_be_visible()
        expect(party.locator("#photo-to-video")).to_be_visible()  # the way back to video

        console.click("#take-next")
        expect(console.locator("#call-state")).to_contain_text("拍照模式")
        expect(console.locator("#gallery img")).to_have_count(4)
        console.select_option("#accident-type", "rear_end")
        console.fill("#address", "西湖区文三路与学院路交叉口")
        fill_party(console, 1, PHONE, "浙A12345", "张伟", "123")
        fill_party(console, 2, "13900000002", "浙A54321", "李娜", "456")
        console.click("#save-parties")
        expect(console.locator("#checks li.passed")).to_have_count(6)
        console.click("#check-eligibility")
        expect(console.locator("#eligibility")).to_contain_text("符合快处条件")

        # Both parties sign the record on their phones before anyone leaves.
        case_id = database.write_sync(
            lambda s: s.scalars(select(Case.id).where(Case.reporter_phone == PHONE)).one()
        )
        with httpx.Client(base_url=server.url) as client:
            sign_all_live(client, case_id, party_session(PHONE), party_session("13900000002"))

        # The party's photos name no vehicle: the gate asks for each one's overview and plate;
        # the operator lets them through with a written reason.
        console.click("#complete")
        dialog = console.locator("#override-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator('input[name="override-key"]')).to_have_count(4)
        expect(dialog).to_contain_text("号牌照片")
        console.click("#override-confirm")
        expect(console.locator("#override-error")).to_have_text("请写明放行的理由（至少4个字）")
        console.fill("#override-reason", "当事人拍照上传，车辆全貌和号牌已在照片中人工核对")
        console.click("#override-confirm")
        expect(console.locator("#wrapup-view")).to_be_visible()
        expect(party.locator("#evacuate-view")).to_be_visible(timeout=15_000)

    def uploads(session: Session) -> list[tuple[str, str]]:
        rows = session.execute(
            select(EvidenceItem.kind, EvidenceItem.uploaded_by_role).order_by(EvidenceItem.id)
        )
        return [tuple(row) for row in rows]

    assert database.write_sync(uploads) == [
        ("side_by_side", "party"),
        ("vehicle_overview", "party"),
        ("collision_point", "party"),
        ("plate", "party"),
        ("signature", "party"),  # each party's signed confirmation is evidence too
        ("signature", "party"),
    ]
    database.dispose()


@requires_chromium
def test_voice_only_call(browser: Browser, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    with (
        servers(tmp_path / "data", url, 1) as (server,),
        call_pages(browser, server.url, server.url) as pages,
    ):
        party, console = pages
        _log_in_and_report(party, console, database)
        party.click("#audio-only")
        expect(party.locator("#message")).to_contain_text("仅语音")
        console.click("#take-next")
        expect(console.locator("#call-mode")).to_contain_text("仅语音")
        until_true(console, VOICE_ONLY, what="voice only")
    database.dispose()
