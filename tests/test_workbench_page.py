"""The officer's workbench in a real browser (issue 8): the case found by its plate, the
operator's override shown with its reason, a determination refused without 认定理由 and then
made with one; the document the parties get prints it, with 甲/乙 and the registry's policy."""

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from conftest import STAFF_PASSWORD, XIHU, requires_chromium
from factories import JPEG_BYTES
from live import LiveServer, latest_sms, prepare_database, servers, wait_until
from playwright.sync_api import Browser, Page, expect

from kuaichu.clock import SHANGHAI, local
from kuaichu.db import Database
from kuaichu.registries.synthetic import demo_drivers

PLATE_COVERED = "乙车号牌被拖车钩遮挡，已人工核对行驶证"
REASONING = "乙车未与前车保持足以采取紧急制动措施的安全距离，追尾甲车"
NO_CIRCUMSTANCES = dict.fromkeys(
    (
        "injury",
        "vehicles_immovable",
        "facts_disputed",
        "drink_or_drugs_suspected",
        "overload_or_speeding_suspected",
        "plate_missing_or_forged",
        "party_left_scene",
        "deliberate",
        "public_facility_damage_unknown_owner",
    ),
    False,
)


@dataclass
class LiveCase:
    id: int
    number: str
    reporter: dict[str, str]


def _party(name: str) -> dict[str, object]:
    person = next(p for p in demo_drivers(local(datetime.now(SHANGHAI)).date()) if p.name == name)
    assert person.policy is not None
    return {
        "name": person.name,
        "phone": person.phone,
        "id_number": person.licence.number,
        "licence_number": person.licence.number,
        "plate_number": person.vehicle.plate_number,
        "plate_type": person.vehicle.plate_type,
        "vehicle_type": person.vehicle.vehicle_type,
        "insurer_code": person.policy.insurer_code,
        "policy_number": person.policy.policy_number,
    }


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def collected_case(client: httpx.Client, database: Database) -> LiveCase:
    """张伟 (甲) reports; the operator records 李娜 (乙) behind him, runs the checks, answers the
    questions and the acts, takes the stills but 乙's plate, and lets the case through without it."""
    phone = "13800000001"
    client.post("/api/auth/sms-code", json={"phone": phone}).raise_for_status()
    code = wait_until(lambda: latest_sms(database, phone), what="login SMS").split("验证码为")[1][:6]
    token = client.post("/api/auth/party", json={"phone": phone, "code": code}).json()["access_token"]
    reporter = {"Authorization": f"Bearer {token}"}
    operator = _login(client, "op-live")
    case = client.post("/api/cases", json=XIHU, headers=reporter).json()
    path = f"/api/cases/{case['id']}"
    facts = {
        "occurred_at": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "address": "西湖区文三路与学院路交叉口",
        "accident_type": "追尾",
        "weather": "晴",
        "description": "乙车追尾甲车，两车尾部、前部轻微受损",
    }
    acts = {
        "parties": [
            {"position": 1, "acts": [], "impact_point": "车尾"},
            {"position": 2, "acts": ["rear_end"], "impact_point": "车头"},
        ]
    }
    for response in (
        client.post(f"{path}/take", headers=operator),
        client.put(f"{path}/facts", json=facts, headers=operator),
        client.put(f"{path}/parties", json={"parties": [_party("张伟"), _party("李娜")]}, headers=operator),
        client.post(f"{path}/checks", headers=operator),
        client.put(f"{path}/circumstances", json=NO_CIRCUMSTANCES, headers=operator),
        client.put(f"{path}/liability-facts", json=acts, headers=operator),
        *(
            client.post(
                f"{path}/evidence",
                headers=operator,
                files={"file": ("still.jpg", JPEG_BYTES, "image/jpeg")},
                data={"kind": kind, **({"party_position": str(position)} if position else {})},
            )
            for kind, position in (
                ("side_by_side", None),
                ("vehicle_overview", 1),
                ("vehicle_overview", 2),
                ("collision_point", None),
                ("plate", 1),
            )
        ),
        client.post(
            f"{path}/collection-complete",
            json={"override": {"keys": ["still:plate:2"], "reason": PLATE_COVERED}},
            headers=operator,
        ),
        client.post(f"{path}/evacuate", headers=operator),
    ):
        assert response.status_code < 300, response.text
    return LiveCase(case["id"], case["number"], reporter)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, httpx.Client, Database]]:
    database_url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(database_url)
    with (
        servers(tmp_path / "data", database_url, 1) as (server,),
        httpx.Client(base_url=server.url) as client,
    ):
        yield server, client, database
    database.dispose()


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
    browser: Browser, live: tuple[LiveServer, httpx.Client, Database], tmp_path: Path, artifacts_dir: Path
) -> None:
    server, client, database = live
    case = collected_case(client, database)
    page = officer_page(browser, server)

    page.fill("#search-q", "浙A54321")
    page.click("#search-form button")
    found = page.locator("#search-rows tr", has_text=case.number)
    expect(found).to_contain_text("乙 李娜")
    found.get_by_role("button", name="打开").click()

    expect(page.locator("#case-number")).to_have_text(case.number)
    override = page.locator("#overrides li")
    expect(override).to_have_count(1)
    expect(override).to_contain_text("缺少当事人2（李娜）号牌照片")
    expect(override).to_contain_text(PLATE_COVERED)
    expect(page.locator("#checks li", has_text="乙 李娜（浙A54321） 交强险")).to_contain_text("PDZA")
    expect(page.locator("#eligibility")).to_have_text("符合快处条件")
    expect(page.locator("#acts li").nth(1)).to_contain_text("同车道追尾前车；碰撞部位：车头")
    expect(page.locator("#gallery figcaption").first).to_contain_text("两车并排同框")
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
    [document] = client.get(f"/api/cases/{case.id}/documents", headers=case.reporter).json()
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(client.get(document["download_url"], headers=case.reporter).content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    flat = "".join(text.split())
    assert f"认定理由：{REASONING}" in flat
    assert "甲张伟" in flat and "乙李娜" in flat
    year = datetime.now(SHANGHAI).year
    assert f"PDZA{year}33010600002" in flat  # 李娜's policy, as the insurance registry has it
    assert f"/verify/{document['number']}" in flat
