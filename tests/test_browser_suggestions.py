"""The console offers what a still shows as a chip beside its field: nothing is filled until the
operator confirms it with one key. Real browser, real server, real OCR."""

from pathlib import Path

from conftest import XIHU, requires_chromium
from factories import JPEG_BYTES
from live import call_pages, party_logs_in, prepare_database, servers, staff_logs_in
from live_casework import STILLS, ZHANG, collect, live_server, login, party_login
from plate_images import FORMATS, plate_still
from playwright.sync_api import Browser, expect

from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION

PHONE = "13800006666"
PLATE = "浙A8B8C9"
ID_NUMBER = "330106198503121231"
SMALL_CAR = next(f for f in FORMATS if f.name == "small")


@requires_chromium
def test_the_operator_confirms_a_plate_read_off_a_still_with_one_key(
    browser: Browser, tmp_path: Path, artifacts_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(url)
    with (
        servers(tmp_path / "data", url, 1) as (server,),
        call_pages(browser, server.url, server.url) as (party, console),
    ):
        staff_logs_in(console, "/console", "op-live")
        expect(console.locator("#queue-view")).to_be_visible()
        # The party reports without video and photographs the shots, its plate among them.
        party_logs_in(party, database, PHONE)
        party.click("#report")
        party.click("#consent-agree")
        party.click("#photo-mode")
        shots = party.locator("#photo-list li")
        expect(shots).to_have_count(4)
        for index in range(4):
            picture = plate_still(PLATE, SMALL_CAR) if index == 3 else JPEG_BYTES
            shots.nth(index).locator("input[type=file]").set_input_files(
                {"name": f"shot-{index}.jpg", "mimeType": "image/jpeg", "buffer": picture}
            )
            expect(shots.nth(index)).to_have_class("done")
        console.click("#take-next")
        expect(console.locator("#gallery img")).to_have_count(4)

        # The console reads the party's plate photo off the request path and offers the plate.
        chip = console.locator("#parties-form .suggestion")
        expect(chip).to_contain_text(PLATE, timeout=120_000)  # the first OCR also loads the model
        expect(chip).to_contain_text("小型汽车")
        field = console.locator('[name="plate_number-1"]')
        expect(field).to_have_value("")  # offered, not filled
        console.screenshot(path=str(artifacts_dir / "console-plate-suggestion.png"))

        expect(chip).to_be_focused()
        console.keyboard.press("Enter")
        expect(field).to_have_value(PLATE)
        expect(console.locator('[name="plate_type-1"]')).to_have_value("02")
        expect(chip).to_have_count(0)

        # Typed over with another plate and saved: the console flags what the still shows.
        field.fill("浙A8B8C8")
        for name, value in (("name", "张伟"), ("id_number", ID_NUMBER), ("licence_number", ID_NUMBER)):
            console.fill(f'[name="{name}-1"]', value)
        console.click("#save-parties")
        expect(console.locator("#parties-form .still-mismatch")).to_contain_text("照片显示浙A8B8C9")
    database.dispose()


@requires_chromium
def test_the_officer_sees_what_a_plate_still_reads_and_that_it_contradicts_the_recorded_plate(
    browser: Browser, tmp_path: Path
) -> None:
    with live_server(tmp_path) as (server, client, database):
        reporter = party_login(client, database, ZHANG)
        operator = login(client, "op-live")
        client.post("/api/consents", json={"version": PRIVACY_NOTICE_VERSION}, headers=reporter)
        case = client.post("/api/calls", json=XIHU, headers=reporter).json()
        case_id = case["case_id"]
        client.post(f"/api/cases/{case_id}/take", headers=operator).raise_for_status()
        # 张伟's plate still shows another plate than the one recorded for him.
        collect(client, operator, case_id, stills=tuple(s for s in STILLS if s[0] != "plate"))
        still = client.post(
            f"/api/cases/{case_id}/evidence",
            headers=operator,
            files={"file": ("plate.jpg", plate_still("浙A9C777", SMALL_CAR), "image/jpeg")},
            data={"kind": "plate", "party_position": "1"},
        ).json()
        path = f"/api/cases/{case_id}/readings/{still['id']}"
        reading = client.post(path, headers=operator).json()
        while reading["status"] == "pending":
            reading = client.get(f"{path}?wait=30", headers=operator, timeout=40).json()
        assert reading["mismatch"] == ["plate_number"]

        page = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768}).new_page()
        staff_logs_in(page, "/workbench", "officer-live")
        page.fill("#search-q", case["number"])
        page.click("#search-form button")
        page.locator("#search-rows tr", has_text=case["number"]).get_by_role("button").first.click()
        caption = page.locator("#gallery figcaption", has_text="号牌")
        expect(caption).to_contain_text("照片识别：浙A9C777")
        expect(caption.locator(".still-mismatch")).to_contain_text("照片显示浙A9C777")
        page.context.close()
