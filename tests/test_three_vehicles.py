"""Up to three vehicles (issue 12): "two" is a rule, not a shape of the code. A three-vehicle
case goes from the call to the claims; the rules leave its shares to the officer; the limit is
the jurisdiction's, and a fourth vehicle is refused naming it."""

import dataclasses
import subprocess
from pathlib import Path

from conftest import XIHU, Api
from factories import ACCIDENT_DAY, demo_party, id_number, party_body, sign_all, upload_jpeg
from flows import NO_CIRCUMSTANCES, in_call_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.cases.catalogue import AccidentType
from kuaichu.geo.models import Jurisdiction
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.rules import Act, propose
from kuaichu.principal import Role
from kuaichu.registries.synthetic import SyntheticPerson, demo_drivers, load

# A third driver the registry knows, with a valid licence, vehicle and policy (李娜's, moved).
THIRD_PHONE = "13300000007"
PHONES = ["13800000001", "13900000002", THIRD_PHONE]


def _third_driver() -> SyntheticPerson:
    li_na = next(p for p in demo_drivers(ACCIDENT_DAY) if p.name == "李娜")
    assert li_na.policy is not None
    number = id_number(serial="777")
    plate = "浙A77B77"
    return SyntheticPerson(
        name="王芳",
        phone=THIRD_PHONE,
        licence=dataclasses.replace(li_na.licence, number=number, name="王芳"),
        vehicle=dataclasses.replace(li_na.vehicle, plate_number=plate, owner="王芳"),
        policy=dataclasses.replace(li_na.policy, policy_number="PDZA202633010600777", plate_number=plate),
    )


def _party(person: SyntheticPerson) -> dict[str, object]:
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


THREE = {"parties": [demo_party("张伟"), demo_party("李娜"), _party(_third_driver())]}
# 乙 changed lanes into 甲, who was pushed into 丙: a chain the rules do not grade.
THREE_ACTS = {
    "parties": [
        {"position": 1, "acts": [], "impact_point": "车尾"},
        {"position": 2, "acts": ["lane_change"], "impact_point": "车头"},
        {"position": 3, "acts": ["rear_end"], "impact_point": "车头"},
    ]
}


THREE_FACTS = {
    "occurred_at": "2026-11-25T09:50:00+08:00",
    "address": "西湖区文三路与学院路交叉口",
    "accident_type": "lane_change",
    "weather": "clear",
    "description": "乙车变道挤靠甲车，丙车追尾甲车",
}


async def _three_vehicle_case(api: Api) -> tuple[int, dict[str, str]]:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await api.context.database.write(lambda s: load(s, [_third_driver()]))
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=THREE, headers=operator)
    assert response.status_code == 200, response.text
    return case_id, operator


async def _collect_and_evacuate(api: Api, case_id: int, operator: dict[str, str]) -> list[dict[str, object]]:
    client = api.client
    checks = await client.post(f"/api/cases/{case_id}/checks", headers=operator)
    assert checks.status_code == 200, checks.text
    for path, body in (("circumstances", NO_CIRCUMSTANCES), ("liability-facts", THREE_ACTS)):
        response = await client.put(f"/api/cases/{case_id}/{path}", json=body, headers=operator)
        assert response.status_code < 300, response.text
    gate = (await client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()
    missing = {item["key"] for item in gate["missing"]}
    assert {"still:vehicle_overview:3", "still:plate:3"} <= missing  # each vehicle's own stills
    assert "acts:3" not in missing
    for kind, position in [("side_by_side", None), ("collision_point", None)] + [
        (kind, position) for kind in ("vehicle_overview", "plate") for position in (1, 2, 3)
    ]:
        response = await upload_jpeg(client, operator, case_id, kind, position)
        assert response.status_code < 300, response.text
    gate = (await client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()
    assert gate["missing"] == []
    # Each of the three parties signs on their own phone before any of them leaves.
    await sign_all(client, case_id, *(api.party_token(phone) for phone in PHONES))
    for response in (
        await client.post(f"/api/cases/{case_id}/collection-complete", headers=operator),
        await client.post(f"/api/cases/{case_id}/evacuate", headers=operator),
    ):
        assert response.status_code < 300, response.text
    return checks.json()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


async def test_a_three_vehicle_case_goes_from_the_call_to_each_partys_claim(api: Api, tmp_path: Path) -> None:
    client = api.client
    case_id, operator = await _three_vehicle_case(api)
    checks = await _collect_and_evacuate(api, case_id, operator)
    assert {c["party_position"] for c in checks} == {1, 2, 3}
    assert all(c["outcome"] == "passed" for c in checks), checks

    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    proposal = (await client.get(f"/api/cases/{case_id}/liability-proposal", headers=officer)).json()
    assert proposal["rule"] is None and proposal["shares"] == []
    assert "3辆车" in proposal["message"] and "第60条第2项" in proposal["message"]

    case = (await client.get(f"/api/cases/{case_id}", headers=officer)).json()
    ids = [p["id"] for p in case["parties"]]
    decision = {
        "shares": [
            {"party_id": ids[0], "responsibility": "none"},
            {"party_id": ids[1], "responsibility": "main"},
            {"party_id": ids[2], "responsibility": "minor"},
        ],
        "reasoning": "乙车变更车道未让行，致甲车被挤靠；丙车未保持安全距离追尾甲车",
    }
    response = await client.post(f"/api/cases/{case_id}/determination", json=decision, headers=officer)
    assert response.status_code == 200, response.text
    await api.documents_made()

    reader = api.party_token(PHONES[0])
    [document] = (await client.get(f"/api/cases/{case_id}/documents", headers=reader)).json()
    text = _pdf_text((await client.get(document["download_url"], headers=reader)).content, tmp_path)
    named = (["甲", "张伟"], ["乙", "李娜"], ["丙", "王芳"])
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()[:2] in named}
    assert set(rows) == {"甲", "乙", "丙"}
    assert "无责任" in rows["甲"] and "主要责任" in rows["乙"] and "次要责任" in rows["丙"]

    for phone in PHONES:
        claim = await client.post(f"/api/cases/{case_id}/claim", headers=api.party_token(phone))
        assert claim.status_code == 201, claim.text


async def test_a_fourth_vehicle_is_refused_naming_the_limit(api: Api) -> None:
    case_id, operator = await _three_vehicle_case(api)
    four = {"parties": [*THREE["parties"], demo_party("赵敏")]}
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=four, headers=operator)
    assert response.status_code == 422
    assert "最多允许3辆车" in response.json()["detail"]
    case = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    assert len(case["parties"]) == 3  # nothing changed


async def test_a_jurisdiction_sets_its_own_limit(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")

    def two_vehicles_here(session: Session) -> None:
        session.scalars(select(Jurisdiction).where(Jurisdiction.code == "330106")).one().max_vehicles = 2

    await api.context.database.write(two_vehicles_here)
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=THREE, headers=operator)
    assert response.status_code == 422
    assert "最多允许2辆车" in response.json()["detail"]


async def test_parties_settle_only_a_two_vehicle_accident_themselves(api: Api) -> None:
    body = {
        "location": XIHU,
        "facts": THREE_FACTS,
        "parties": {
            "parties": [
                party_body(PHONES[0], "浙A12345"),
                party_body(PHONES[1], "浙A54321", "李娜", "456"),
                party_body(THIRD_PHONE, "浙A77B77", "王芳", "777"),
            ]
        },
        "shares": [{"position": 1, "responsibility": "none"}, {"position": 2, "responsibility": "full"}],
    }
    response = await api.client.post("/api/settlements", json=body, headers=api.party_token(PHONES[0]))
    assert response.status_code == 422
    assert "自行协商仅适用于两车事故" in response.text


def test_the_rules_propose_for_two_vehicles_and_leave_three_to_the_officer() -> None:
    rear_end = {2: {Act.REAR_END}}
    two = propose(AccidentType.REAR_END, rear_end, [1, 2])
    assert two is not None and two.shares == {1: Responsibility.NONE, 2: Responsibility.FULL}
    assert propose(AccidentType.REAR_END, rear_end, [1, 2, 3]) is None


async def test_the_console_offers_a_form_for_each_vehicle_the_limit_allows(api: Api) -> None:
    config = (await api.client.get("/api/calls/config")).json()
    assert config["max_vehicles"] == 3
