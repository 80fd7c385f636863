"""The insurer reports its 定损 amounts; the parties and the insurers see who pays what."""

from typing import Any

import pytest
from conftest import Api
from flows import WalkedCase, determined_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.service import create_insurer
from kuaichu.notify.models import OutboxMessage
from kuaichu.principal import Role


async def _insurer(api: Api, code: str) -> dict[str, str]:
    def create(session: Session) -> str:
        return create_insurer(
            session, code=code, name=f"{code}保险", webhook_url=None, now=api.context.clock.now()
        )[1]

    return {"X-API-Key": await api.context.database.write(create)}


async def _claimed(api: Api) -> tuple[WalkedCase, dict[str, str], list[str], list[int]]:
    """张伟 (party 1, no fault, PICC) and 李娜 (party 2, full, CPIC) each push a claim: both go
    to CPIC, 李娜's insurer. Returns the case, CPIC's key, the plates and the claims."""
    case = await determined_case(api)
    await _insurer(api, "PICC")
    cpic = await _insurer(api, "CPIC")
    claims = [
        (await api.client.post(f"/api/cases/{case.id}/claim", headers=who)).json()["id"]
        for who in (case.reporter, case.other)
    ]
    detail = (await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)).json()
    plates = [p["plate_number"] for p in sorted(detail["parties"], key=lambda p: p["position"])]
    return case, cpic, plates, claims


async def _assess(api: Api, claim: int, cpic: dict[str, str], losses: Any) -> Any:
    body = {"status": "assessed", "losses": losses}
    return await api.client.post(f"/api/insurer/claims/{claim}/progress", json=body, headers=cpic)


async def test_the_parties_see_who_pays_what_once_every_car_is_assessed(api: Api) -> None:
    case, cpic, (zhang, li), (zhang_claim, li_claim) = await _claimed(api)
    url = f"/api/cases/{case.id}/compensation"

    first = await _assess(api, zhang_claim, cpic, [{"plate_number": zhang, "amount": "3500.00"}])
    assert first.status_code == 200, first.text
    waiting = (await api.client.get(url, headers=case.reporter)).json()
    assert (waiting["complete"], waiting["pending"]) == (False, [li])

    second = await _assess(api, li_claim, cpic, [{"plate_number": li, "amount": 800}])
    assert second.status_code == 200, second.text
    split = (await api.client.get(url, headers=case.reporter)).json()
    assert split["complete"] is True
    paid = {
        (p["payer_insurer_code"], p["beneficiary_plate"], p["amount"], p["rule_label"])
        for p in split["payments"]
    }
    # CPIC pays 张伟's car up to the at-fault limit, and 李娜's 100 on PICC's behalf (无责代赔).
    assert paid == {("CPIC", zhang, "2000.00", "赔付对方损失"), ("CPIC", li, "100.00", "无责代赔")}
    on_behalf = next(p for p in split["payments"] if p["rule"] == "no_fault_on_behalf")
    assert on_behalf["on_behalf_of_insurer_name"] == "PICC保险"
    assert "《机动车交通事故责任强制保险条例》" in on_behalf["basis"]
    excess = {v["plate_number"]: (v["excess"], v["property_limit"]) for v in split["vehicles"]}
    # Each car's own limit as the liable vehicle: 张伟 bears none (100), 李娜 full (2,000).
    assert excess == {zhang: ("1500.00", "100.00"), li: ("700.00", "2000.00")}
    assert split["vehicles"][0]["excess_note"].startswith("超出交强险部分由商业险或责任方承担")
    # The other party sees the same split, in English if that is what it reads.
    english = await api.client.get(url, headers=case.other | {"Accept-Language": "en"})
    assert {p["rule_label"] for p in english.json()["payments"]} == {
        "Pays the other party's loss",
        "Paid on behalf of the no-fault insurer",
    }
    stranger = await api.client.get(url, headers=api.party_token("13700000000"))
    assert stranger.status_code == 404

    # The insurer's package carries it, and the insurers with a claim are sent it, in Chinese.
    package = (await api.client.get(f"/api/insurer/claims/{zhang_claim}/package", headers=cpic)).json()
    assert package["compensation"]["payments"] == split["payments"]

    def sent(session: Session) -> list[dict[str, Any]]:
        rows = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.case_id == case.id))
        return [p["body"] for p in rows if p.get("body", {}).get("event") == "claim.compensation"]

    [notice] = await api.context.database.read(sent)
    assert notice["compensation"]["payments"] == split["payments"]


BAD_LOSSES = [
    pytest.param([{"plate_number": "X", "amount": "-1"}], 422, id="negative"),
    pytest.param([{"plate_number": "X", "amount": "12.345"}], 422, id="below_the_fen"),
    pytest.param([{"plate_number": "X", "amount": "NaN"}], 422, id="nan"),
    pytest.param([{"plate_number": "X", "amount": 1_000_000.01}], 422, id="beyond_the_bound"),
    pytest.param([{"plate_number": "X", "amount": True}], 422, id="boolean"),
    pytest.param([{"plate_number": "X", "amount": "lots"}], 422, id="words"),
    pytest.param([{"plate_number": "X"}], 422, id="no_amount"),
    pytest.param([], 422, id="assessed_without_amounts"),
    pytest.param(
        [{"plate_number": "X", "amount": 1}, {"plate_number": "X", "amount": 2}], 422, id="a_plate_twice"
    ),
    pytest.param([{"plate_number": "浙Z00000", "amount": 1}], 422, id="not_a_vehicle_of_the_case"),
]


@pytest.mark.parametrize(("losses", "status"), BAD_LOSSES)
async def test_bad_amounts_are_refused_clearly_and_change_nothing(api: Api, losses: Any, status: int) -> None:
    case, cpic, (zhang, _), (zhang_claim, _) = await _claimed(api)
    losses = [loss | {"plate_number": zhang} if loss.get("plate_number") == "X" else loss for loss in losses]
    refused = await _assess(api, zhang_claim, cpic, losses)
    assert refused.status_code == status, refused.text
    problem = refused.json()
    said = problem.get("detail", "") + "".join(e["message"] for e in problem.get("errors", []))
    assert any("\u4e00" <= ch <= "\u9fff" for ch in said), problem  # a Chinese message
    claims = (await api.client.get(f"/api/cases/{case.id}/claims", headers=case.reporter)).json()
    assert {(c["status"], c["loss_assessed"]) for c in claims} == {("pushed", False)}
    waiting = (await api.client.get(f"/api/cases/{case.id}/compensation", headers=case.reporter)).json()
    assert waiting["complete"] is False and len(waiting["pending"]) == 2


async def test_amounts_only_with_the_assessment_and_a_car_assessed_once(api: Api) -> None:
    case, cpic, (zhang, li), (zhang_claim, li_claim) = await _claimed(api)
    early = {"status": "contacted", "losses": [{"plate_number": zhang, "amount": 10}]}
    response = await api.client.post(f"/api/insurer/claims/{zhang_claim}/progress", json=early, headers=cpic)
    assert response.status_code == 422
    assert (await _assess(api, zhang_claim, cpic, [{"plate_number": zhang, "amount": 10}])).status_code == 200
    again = await _assess(
        api, li_claim, cpic, [{"plate_number": zhang, "amount": 20}, {"plate_number": li, "amount": 5}]
    )
    assert again.status_code == 409
    assert zhang in again.json()["detail"]
    claims = (await api.client.get(f"/api/cases/{case.id}/claims", headers=case.reporter)).json()
    assert sorted((c["status"], c["loss_assessed"]) for c in claims) == [
        ("assessed", True),
        ("pushed", False),
    ]


async def test_the_supervisor_adopts_mutual_self_claim_for_a_jurisdiction(api: Api) -> None:
    supervisor = await api.staff("sup", Role.SUPERVISOR)
    url = "/api/supervision/jurisdictions/330106/service"
    adopted = await api.client.put(url, json={"paused": False, "mutual_self_claim": True}, headers=supervisor)
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["mutual_self_claim"] is True
    # Pausing later leaves the setting as it was.
    paused = await api.client.put(url, json={"paused": True, "reason": "暴雨红色预警"}, headers=supervisor)
    assert paused.status_code == 200, paused.text
    assert paused.json()["mutual_self_claim"] is True
