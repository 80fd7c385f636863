"""Can this accident be handled by video? Each rule, and the transfer reason it fills in."""

import pytest
from conftest import Api
from flows import NO_CIRCUMSTANCES as CLEAR
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_registry_checks import case_in_call

from kuaichu.geo.models import Jurisdiction


async def assess(api: Api, case_id: int, operator: dict[str, str]) -> dict[str, object]:
    response = await api.client.get(f"/api/cases/{case_id}/eligibility", headers=operator)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_clear_case_with_passing_checks_is_eligible(api: Api) -> None:
    case_id, operator = await case_in_call(api, "张伟", "李娜")
    pending = await assess(api, case_id, operator)
    assert pending["eligible"] is None and len(pending["missing"]) == 2
    await api.client.put(f"/api/cases/{case_id}/circumstances", json=CLEAR, headers=operator)
    await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    result = await assess(api, case_id, operator)
    assert result == {"eligible": True, "reasons": [], "missing": [], "notes": [], "transfer_reason": None}


@pytest.mark.parametrize(
    ("answer", "reason", "basis"),
    [
        ("injury", "有人员受伤或死亡", "第13条"),
        ("vehicles_immovable", "不能自行移动车辆", "第13条第5项"),
        ("facts_disputed", "有争议", "第19条"),
        ("drink_or_drugs_suspected", "饮酒", "第13条第2项"),
        ("overload_or_speeding_suspected", "严重超载", "第13条第3项"),
        ("plate_missing_or_forged", "无号牌", "第13条第4项"),
        ("party_left_scene", "离开现场", "第13条第6项"),
        ("deliberate", "故意", "第13条第7项"),
        ("public_facility_damage_unknown_owner", "公共设施", "第19条"),
    ],
)
async def test_each_circumstance_rules_video_handling_out(
    api: Api, answer: str, reason: str, basis: str
) -> None:
    case_id, operator = await case_in_call(api, "张伟", "李娜")
    await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    await api.client.put(f"/api/cases/{case_id}/circumstances", json=CLEAR | {answer: True}, headers=operator)
    result = await assess(api, case_id, operator)
    assert result["eligible"] is False
    [found] = result["reasons"]  # type: ignore[misc]
    assert reason in found["reason"] and basis in found["basis"]
    assert reason in str(result["transfer_reason"]) and basis in str(result["transfer_reason"])


@pytest.mark.parametrize(
    ("names", "code", "detail"),
    [
        (("张伟", "王强"), "licence", "第2方：驾驶证状态为“暂扣”"),
        (("张伟", "刘洋"), "licence", "准驾车型C1不能驾驶大型普通客车"),
        (("张伟", "赵敏"), "uninsured", "未查到该车交强险保单"),
        (("张伟", "陈静"), "stolen_or_scrapped", "被盗抢"),
    ],
)
async def test_registry_failures_rule_video_handling_out(
    api: Api, names: tuple[str, ...], code: str, detail: str
) -> None:
    case_id, operator = await case_in_call(api, *names)
    await api.client.put(f"/api/cases/{case_id}/circumstances", json=CLEAR, headers=operator)
    await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    result = await assess(api, case_id, operator)
    assert result["eligible"] is False
    assert code in [r["code"] for r in result["reasons"]]  # type: ignore[union-attr]
    assert detail in str(result["transfer_reason"])


async def test_more_vehicles_than_the_limit_is_ruled_out(api: Api) -> None:
    # Recording more parties than the limit is refused (tests/test_three_vehicles.py); a case
    # recorded before its jurisdiction lowered the limit is ruled out by this rule.
    case_id, operator = await case_in_call(api, "张伟", "李娜", "王强")

    def two_vehicles_here(session: Session) -> None:
        session.scalars(select(Jurisdiction).where(Jurisdiction.code == "330106")).one().max_vehicles = 2

    await api.context.database.write(two_vehicles_here)
    await api.client.put(f"/api/cases/{case_id}/circumstances", json=CLEAR, headers=operator)
    result = await assess(api, case_id, operator)
    assert "（3辆，上限2辆）" in str(result["transfer_reason"])


async def test_the_prefilled_reason_transfers_the_case(api: Api) -> None:
    case_id, operator = await case_in_call(api, "张伟", "李娜")
    await api.client.put(
        f"/api/cases/{case_id}/circumstances", json=CLEAR | {"injury": True}, headers=operator
    )
    reason = (await assess(api, case_id, operator))["transfer_reason"]
    response = await api.client.post(
        f"/api/cases/{case_id}/transfer", json={"reason": reason}, headers=operator
    )
    assert response.json()["state"] == "transferred"
    assert any("现场处置" in text for text in await api.sms_to("13800000001"))
