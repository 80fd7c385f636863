"""The collection gate: nothing leaves the scene unchecked (art. 13, 19)."""

from typing import Any

from conftest import XIHU, Api
from factories import FACTS, demo_party, upload_jpeg
from flows import (
    NO_CIRCUMSTANCES,
    OVERRIDE_REASON,
    REPORTER,
    collect_evidence,
    evacuated_case,
    in_call_case,
    rear_end_decision,
)
from sqlalchemy import select, update

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditEntry
from kuaichu.cases.catalogue import AccidentType
from kuaichu.geo.models import Jurisdiction
from kuaichu.principal import Role


async def _complete(api: Api, case_id: int, operator: dict[str, str], body: Any = None) -> Any:
    return await api.client.post(f"/api/cases/{case_id}/collection-complete", json=body, headers=operator)


async def _state(api: Api, case_id: int, headers: dict[str, str]) -> str:
    return (await api.client.get(f"/api/cases/{case_id}", headers=headers)).json()["state"]


async def _timeline_kinds(api: Api, case_id: int, headers: dict[str, str]) -> list[str]:
    return [
        e["kind"] for e in (await api.client.get(f"/api/cases/{case_id}/timeline", headers=headers)).json()
    ]


async def test_an_unchecked_case_is_refused_with_every_missing_item_and_nothing_changes(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    before = await _timeline_kinds(api, case_id, operator)

    response = await _complete(api, case_id, operator)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "采集信息不完整"
    assert {item["key"] for item in problem["missing"]} == {
        "registry:1",
        "registry:2",
        "eligibility",
        "still:side_by_side",
        "still:collision_point",
        "still:vehicle_overview:1",
        "still:vehicle_overview:2",
        "still:plate:1",
        "still:plate:2",
        "acts:1",
        "acts:2",
    }
    by_key = {item["key"]: item for item in problem["missing"]}
    assert by_key["registry:1"]["code"] == "registry_check_missing"
    assert by_key["still:plate:2"]["message"] == "缺少当事人2（李娜）号牌照片"
    assert by_key["eligibility"]["code"] == "eligibility_not_judged"
    assert "尚未判定能否快处" in problem["detail"]
    assert await _state(api, case_id, operator) == "in_call"
    assert await _timeline_kinds(api, case_id, operator) == before


async def test_each_item_is_named_until_it_is_done(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator, skip=frozenset({"stills"}))
    await upload_jpeg(api.client, operator, case_id, "plate", 1)
    await upload_jpeg(api.client, operator, case_id, "side_by_side")

    gate = (await api.client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()

    assert gate["ready"] is False
    assert [item["key"] for item in gate["missing"]] == [
        "still:vehicle_overview:1",
        "still:vehicle_overview:2",
        "still:collision_point",
        "still:plate:2",
    ]
    present = {(s["kind"], s["party_position"]) for s in gate["stills"] if s["present"]}
    assert present == {("side_by_side", None), ("plate", 1)}
    assert {s["label"] for s in gate["stills"]} >= {"车辆并排同框", "当事人2 号牌"}


async def test_a_party_edited_after_its_check_must_be_checked_again(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator)
    edited = demo_party("李娜") | {"name": "李娜娜"}
    response = await api.client.put(
        f"/api/cases/{case_id}/parties", json={"parties": [demo_party("张伟"), edited]}, headers=operator
    )
    assert response.status_code == 200

    response = await _complete(api, case_id, operator)

    assert response.status_code == 409
    [stale] = response.json()["missing"]
    assert stale["key"] == "registry:2"
    assert stale["code"] == "registry_check_stale"
    assert "修改后尚未重新核验" in stale["message"]
    assert await _state(api, case_id, operator) == "in_call"


async def test_a_suspended_licence_can_only_be_transferred(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "王强")
    await collect_evidence(api, case_id, operator)

    refused = await _complete(api, case_id, operator)
    assert refused.status_code == 409
    [ineligible] = refused.json()["missing"]
    assert ineligible["code"] == "ineligible"
    assert ineligible["overridable"] is False
    assert "暂扣" in ineligible["message"] and "只能转现场处置" in ineligible["message"]

    override = {"override": {"keys": ["eligibility"], "reason": OVERRIDE_REASON}}
    forced = await _complete(api, case_id, operator, override)
    assert forced.status_code == 422
    assert "不能放行" in forced.json()["detail"]
    assert await _state(api, case_id, operator) == "in_call"

    transferred = await api.client.post(
        f"/api/cases/{case_id}/transfer", json={"reason": "驾驶证暂扣，转现场处置"}, headers=operator
    )
    assert transferred.json()["state"] == "transferred"


async def test_an_answer_changed_after_collection_still_stops_the_evacuation(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator)
    assert (await _complete(api, case_id, operator)).json()["state"] == "collected"
    injured = NO_CIRCUMSTANCES | {"injury": True}
    await api.client.put(f"/api/cases/{case_id}/circumstances", json=injured, headers=operator)

    response = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)

    assert response.status_code == 409
    assert "有人员受伤" in response.json()["detail"]
    assert await _state(api, case_id, operator) == "collected"
    assert not any("撤离" in text for text in await api.sms_to(REPORTER))


async def test_an_override_needs_a_written_reason_and_names_only_missing_items(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator, skip=frozenset({"acts"}))

    no_reason = await _complete(api, case_id, operator, {"override": {"keys": ["acts:1"], "reason": " 好 "}})
    assert no_reason.status_code == 422
    assert "至少4个字" in str(no_reason.json()["errors"])
    not_missing = await _complete(
        api, case_id, operator, {"override": {"keys": ["still:plate:1"], "reason": OVERRIDE_REASON}}
    )
    assert not_missing.status_code == 422
    assert "still:plate:1" in not_missing.json()["detail"]
    partial = await _complete(
        api, case_id, operator, {"override": {"keys": ["acts:1"], "reason": OVERRIDE_REASON}}
    )
    assert partial.status_code == 409
    assert [item["key"] for item in partial.json()["missing"]] == ["acts:2"]
    assert await _state(api, case_id, operator) == "in_call"
    assert "collection_override" not in await _timeline_kinds(api, case_id, operator)


async def test_an_override_is_audited_and_shown_to_the_officer_the_reviewer_and_the_supervisor(
    api: Api,
) -> None:
    case = await evacuated_case(api, skip=frozenset({"acts"}))

    officer_view = (await api.client.get(f"/api/cases/{case.id}/collection", headers=case.officer)).json()
    [override] = officer_view["overrides"]
    assert override["reason"] == OVERRIDE_REASON
    assert [item["key"] for item in override["items"]] == ["acts:1", "acts:2"]
    assert override["operator"] == "op-xihu姓名"
    audited = await api.context.database.read(
        lambda s: s.scalars(
            select(AuditEntry).where(
                AuditEntry.case_id == case.id, AuditEntry.action == "collection_override"
            )
        ).one()
    )
    # The hashed log is never rewritten, so it keeps the reason's digest, not the words
    # (retention deletes those from the override row after its period).
    assert audited.detail["reason"] == audit.text_digest(OVERRIDE_REASON)

    reviewer = await api.staff("reviewer", Role.REVIEWER)
    seen = (await api.client.get(f"/api/cases/{case.id}/collection", headers=reviewer)).json()
    assert seen["overrides"] == officer_view["overrides"]
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    replay = (await api.client.get(f"/api/supervision/cases/{case.id}/replay", headers=supervisor)).json()
    [line] = [e for e in replay["timeline"] if e["kind"] == "collection_override"]
    assert line["detail"]["reason"] == OVERRIDE_REASON
    party = await api.client.get(f"/api/cases/{case.id}/collection", headers=case.reporter)
    assert party.status_code == 404


async def test_a_jurisdiction_sets_its_own_list_of_stills(api: Api) -> None:
    await api.context.database.write(
        lambda s: s.execute(
            update(Jurisdiction).where(Jurisdiction.code == "330106").values(required_stills=["side_by_side"])
        )
    )
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator, skip=frozenset({"stills"}))
    await upload_jpeg(api.client, operator, case_id, "side_by_side")

    assert (await _complete(api, case_id, operator)).json()["state"] == "collected"


async def test_a_single_vehicle_accident_needs_no_side_by_side_still(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    single = FACTS | {"accident_type": AccidentType.SINGLE_VEHICLE}
    await api.client.put(f"/api/cases/{case_id}/facts", json=single, headers=operator)
    gate = (await api.client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()
    assert {(s["kind"], s["party_position"]) for s in gate["stills"]} == {
        ("collision_point", None),
        ("vehicle_overview", 1),
        ("plate", 1),
    }


async def test_a_still_for_a_party_not_on_the_case_is_refused(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    response = await upload_jpeg(api.client, operator, case_id, "plate", 3)
    assert response.status_code == 422
    assert "没有当事人3" in response.json()["detail"]


async def test_a_determination_needs_its_reasoning(api: Api) -> None:
    case = await evacuated_case(api)
    decision = rear_end_decision(case) | {"reasoning": "   "}

    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=decision, headers=case.officer
    )

    assert response.status_code == 422
    assert "认定理由" in response.json()["detail"]
    assert await _state(api, case.id, case.officer) == "evacuated"


async def test_the_officer_sends_a_case_back_and_the_party_calls_back_into_it_at_the_head(api: Api) -> None:
    case = await evacuated_case(api)
    newcomer = await api.agreed_party("13600000004")
    waiting = (await api.client.post("/api/calls", json=XIHU, headers=newcomer)).json()

    sent = await api.client.post(
        f"/api/cases/{case.id}/send-back", json={"reason": "缺少乙车右前部近景"}, headers=case.officer
    )
    assert sent.json()["state"] == "more_evidence"
    assert any("补充视频取证" in text for text in await api.sms_to("13900000002"))
    mine = (await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)).json()
    assert mine["state_label"] == "需补充证据，请重新视频连线"
    assert "call_back" in [a for a in mine["allowed_actions"]]

    called = await api.client.post(f"/api/cases/{case.id}/call-back", headers=case.reporter)

    assert called.status_code == 200, called.text
    assert called.json()["case_id"] == case.id
    assert called.json()["position"] == 1  # ahead of the call that was already waiting
    queue = (await api.client.get("/api/calls/queue", headers=case.operator)).json()
    assert [w["case_id"] for w in queue["waiting"]] == [case.id, waiting["case_id"]]
    again = await api.client.post(f"/api/cases/{case.id}/call-back", headers=case.reporter)
    assert again.status_code == 409
    timeline = (await api.client.get(f"/api/cases/{case.id}/timeline", headers=case.officer)).json()
    assert [e["detail"].get("reason") for e in timeline if e["kind"] == "send_back"] == ["缺少乙车右前部近景"]


async def test_a_send_back_needs_a_reason_and_a_stranger_cannot_call_back(api: Api) -> None:
    case = await evacuated_case(api)
    vague = await api.client.post(
        f"/api/cases/{case.id}/send-back", json={"reason": "补"}, headers=case.officer
    )
    assert vague.status_code == 422
    assert await _state(api, case.id, case.officer) == "evacuated"
    await api.client.post(
        f"/api/cases/{case.id}/send-back", json={"reason": "缺少碰撞部位近景"}, headers=case.officer
    )
    stranger = await api.client.post(
        f"/api/cases/{case.id}/call-back", headers=api.party_token("13700000000")
    )
    assert stranger.status_code == 404
    assert await _state(api, case.id, case.officer) == "more_evidence"


async def test_the_officer_moves_a_case_to_the_ordinary_procedure(api: Api) -> None:
    case = await evacuated_case(api)

    response = await api.client.post(
        f"/api/cases/{case.id}/ordinary-procedure",
        json={"reason": "双方损失较大，需现场勘查"},
        headers=case.officer,
    )

    assert response.json()["state"] == "ordinary_procedure"
    assert any("一般程序" in text for text in await api.sms_to(REPORTER))
    determine = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert determine.status_code == 409


async def test_leaving_the_queue_after_a_call_back_keeps_the_case(api: Api) -> None:
    case = await evacuated_case(api)
    await api.client.post(
        f"/api/cases/{case.id}/send-back", json={"reason": "缺少碰撞部位近景"}, headers=case.officer
    )
    await api.client.post(f"/api/cases/{case.id}/call-back", headers=case.reporter)

    left = await api.client.post(f"/api/calls/{case.id}/abandon", headers=case.reporter)

    assert left.status_code == 204
    assert await _state(api, case.id, case.officer) == "more_evidence"
    evidence = (await api.client.get(f"/api/cases/{case.id}/evidence", headers=case.officer)).json()
    assert len(evidence) == 8  # the six stills and both parties' signatures
