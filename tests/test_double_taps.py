"""A hurried user taps twice: the newest write routes (signature, joining, the insurer seat,
recognition, settlement and claims) sent twice in a row and twice at once. The second tap gives
the same answer or a clear 409 in Chinese; never a server error, a second row or a second SMS."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from conftest import Api
from factories import demo_party, signature_upload
from flows import OTHER, REPORTER, collected_case, determined_case, in_call_case
from insurer_seats import agent
from plate_images import FORMATS, plate_still
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_compensation_api import _insurer
from test_insurer_seat import recorded_call
from test_media_rooms import media_api
from test_recognition import upload
from test_settlement import A, B, _proposal
from test_three_vehicles import THIRD_PHONE

from kuaichu.clock import FrozenClock
from kuaichu.principal import Role
from kuaichu.tables import Base

__all__ = ["media_api"]

Tap = Callable[[], Awaitable[httpx.Response]]
TOGETHER = pytest.mark.parametrize("together", [False, True], ids=["in_a_row", "at_once"])


async def twice(tap: Tap, together: bool) -> list[httpx.Response]:
    """The same request twice: one after the other, or both at once."""
    if together:
        return list(await asyncio.gather(tap(), tap()))
    return [await tap(), await tap()]


async def rows(api: Api) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the audit log (reads and refusals are audited too)."""

    def read(session: Session) -> dict[str, list[tuple[object, ...]]]:
        return {
            table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
            if not table.name.startswith("audit")
        }

    return await api.context.database.read(read)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


@TOGETHER
async def test_a_party_who_signs_twice_is_told_once_signed_and_one_signature_is_kept(
    api: Api, together: bool
) -> None:
    case_id, operator = await collected_case(api)
    zhang = api.party_token(REPORTER)
    seen = (await api.client.get(f"/api/cases/{case_id}/confirmation", headers=zhang)).json()
    upload = signature_upload(seen["content_sha256"])

    responses = await twice(
        lambda: api.client.post(f"/api/cases/{case_id}/signature", headers=zhang, **upload), together
    )
    assert statuses(responses) == [201, 409], [r.text for r in responses]
    (second,) = [r for r in responses if r.status_code == 409]
    assert second.json()["detail"] == "您已签名确认，无需重复签名"
    evidence = (await api.client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json()
    assert [item["kind"] for item in evidence].count("signature") == 1


async def _join_token(api: Api, case_id: int) -> str:
    response = await api.client.get(f"/api/cases/{case_id}/join-link", headers=api.party_token(REPORTER))
    assert response.status_code == 200, response.text
    return response.json()["link"].rsplit("=", 1)[1]


@TOGETHER
async def test_a_joining_party_who_taps_twice_asks_once_and_is_admitted_once(
    api: Api, together: bool
) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    token = await _join_token(api, case_id)
    li = api.party_token(OTHER)
    asked = await twice(lambda: api.client.post("/api/joins", json={"token": token}, headers=li), together)
    assert [r.status_code for r in asked] == [200, 200]
    assert asked[0].json() == asked[1].json(), "the same request"
    assert len((await rows(api))["join_requests"]) == 1

    body = {"join_id": asked[0].json()["id"], **{k: v for k, v in demo_party("李娜").items() if k != "phone"}}
    admitted = await twice(
        lambda: api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator), together
    )
    assert statuses(admitted) == [200, 409]
    (second,) = [r for r in admitted if r.status_code == 409]
    assert second.json()["detail"] == "该加入申请已处理（已接入），无需再次操作"
    parties = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["parties"]
    assert [(p["position"], p["phone"]) for p in parties] == [(1, REPORTER), (2, OTHER)]


@TOGETHER
async def test_the_operator_who_refuses_twice_is_told_it_is_done(api: Api, together: bool) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    token = await _join_token(api, case_id)
    join_id = (
        await api.client.post("/api/joins", json={"token": token}, headers=api.party_token(OTHER))
    ).json()["id"]
    refused = await twice(
        lambda: api.client.post(
            f"/api/cases/{case_id}/joins/refuse", json={"join_id": join_id}, headers=operator
        ),
        together,
    )
    assert statuses(refused) == [204, 409]
    (second,) = [r for r in refused if r.status_code == 409]
    assert second.json()["detail"] == "该加入申请已处理（已拒绝），无需再次操作"


@TOGETHER
async def test_the_join_link_sent_twice_to_one_phone_is_one_sms(
    api: Api, clock: FrozenClock, together: bool
) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    body = {"phone": THIRD_PHONE}
    sent = await twice(
        lambda: api.client.post(f"/api/cases/{case_id}/join-link/sms", json=body, headers=operator), together
    )
    assert [r.status_code for r in sent] == [202, 202]
    assert sent[0].json() == sent[1].json(), "the same link"
    assert len(await api.sms_to(THIRD_PHONE)) == 1
    assert len((await rows(api))["join_sms"]) == 1

    # A minute later it is no double tap: the operator sends it again on purpose.
    clock.advance(timedelta(minutes=2))
    again = await api.client.post(f"/api/cases/{case_id}/join-link/sms", json=body, headers=operator)
    assert again.status_code == 202
    assert len(await api.sms_to(THIRD_PHONE)) == 2


@TOGETHER
async def test_a_122_caller_entered_twice_opens_one_case_and_one_sms(api: Api, together: bool) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    body = {"phone": THIRD_PHONE, "address": "西湖区文三路"}
    opened = await twice(
        lambda: api.client.post("/api/calls/phone-report", json=body, headers=operator), together
    )
    # The second entry gets the first's case back, as a second one-tap report does.
    assert statuses(opened) == [200, 201], [r.text for r in opened]
    assert opened[0].json() == opened[1].json(), "the same case"
    assert len((await rows(api))["cases"]) == 1
    assert len(await api.sms_to(THIRD_PHONE)) == 1


@TOGETHER
async def test_a_second_122_caller_while_the_first_call_is_live_is_refused(api: Api, together: bool) -> None:
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    first = {"phone": THIRD_PHONE, "address": "西湖区文三路"}
    second = {"phone": OTHER, "address": "西湖区文三路"}
    if together:
        opened = list(
            await asyncio.gather(
                *(
                    api.client.post("/api/calls/phone-report", json=b, headers=operator)
                    for b in (first, second)
                )
            )
        )
    else:
        opened = [
            await api.client.post("/api/calls/phone-report", json=b, headers=operator)
            for b in (first, second)
        ]
    assert statuses(opened) == [201, 409], [r.text for r in opened]
    (refused,) = [r for r in opened if r.status_code == 409]
    assert refused.json()["detail"] == "请先结束当前通话"
    assert len((await rows(api))["cases"]) == 1
    # Whichever came first has its case and its SMS; the other phone has neither.
    texted = [len(await api.sms_to(phone)) for phone in (THIRD_PHONE, OTHER)]
    assert sorted(texted) == [0, 1]


@TOGETHER
async def test_an_insurer_invited_twice_and_its_agent_seated_twice_is_one_seat(
    media_api: Api, together: bool
) -> None:
    api = media_api
    case_id, _, operator = await recorded_call(api)
    cpic = await agent(api, "cpic-wang", "CPIC")
    invited = await twice(
        lambda: api.client.post(
            f"/api/cases/{case_id}/insurer-invitations", json={"insurer_code": "CPIC"}, headers=operator
        ),
        together,
    )
    assert statuses(invited) == [201, 409]
    (second,) = [r for r in invited if r.status_code == 409]
    assert second.json()["detail"] == "已邀请中国太平洋财产保险加入本次通话，邀请仍有效"

    # This media server does not answer (503), but the seat and the presence are written first.
    seated = await twice(lambda: api.client.post(f"/api/cases/{case_id}/media-pass", headers=cpic), together)
    assert [r.status_code for r in seated] == [503, 503]
    stored = await rows(api)
    assert (len(stored["insurer_invitations"]), len(stored["insurer_presences"])) == (1, 1)

    left = await twice(
        lambda: api.client.post(f"/api/cases/{case_id}/insurer-seat/leave", headers=cpic), together
    )
    assert statuses(left) == [204, 409]
    (second,) = [r for r in left if r.status_code == 409]
    assert second.json()["detail"] == "您当前不在本案的通话中"


@TOGETHER
async def test_a_still_sent_to_be_read_twice_has_one_reading(
    api: Api, taken_call: tuple[int, dict[str, str]], together: bool
) -> None:
    case_id, operator = taken_call
    small = next(f for f in FORMATS if f.name == "small")
    evidence_id = await upload(api.client, operator, case_id, "plate", plate_still("浙A12345", small))
    url = f"/api/cases/{case_id}/readings/{evidence_id}"
    started = await twice(lambda: api.client.post(url, headers=operator), together)
    assert [(r.status_code, r.json()["status"]) for r in started] == [(202, "pending")] * 2
    done = await api.client.get(f"{url}?wait=30", headers=operator)
    assert done.json()["plate_number"] == "浙A12345"
    assert len((await rows(api))["still_readings"]) == 1


@TOGETHER
async def test_a_settlement_confirmed_twice_is_confirmed_once(api: Api, together: bool) -> None:
    a, b = api.party_token(A), api.party_token(B)
    case = (await api.client.post("/api/settlements", json=_proposal(), headers=a)).json()
    url = f"/api/cases/{case['id']}/settlement/confirm"
    confirmed = await twice(lambda: api.client.post(url, headers=b), together)
    assert statuses(confirmed) == [200, 409]
    (second,) = [r for r in confirmed if r.status_code == 409]
    assert second.json()["detail"].startswith("案件当前状态为“双方已确认协商结果”")
    assert len([m for m in await api.sms_to(A) if "双方已确认" in m]) == 1


@TOGETHER
async def test_a_claim_and_its_compensation_reported_twice_are_kept_once(api: Api, together: bool) -> None:
    case = await determined_case(api)
    await _insurer(api, "PICC")
    cpic = await _insurer(api, "CPIC")
    pushed = await twice(lambda: api.client.post(f"/api/cases/{case.id}/claim", headers=case.other), together)
    assert statuses(pushed) == [201, 409]
    (second,) = [r for r in pushed if r.status_code == 409]
    assert second.json()["detail"] == "您已提交过理赔"
    claim = next(r for r in pushed if r.status_code == 201).json()["id"]

    url = f"/api/insurer/claims/{claim}/progress"
    contacted = await twice(
        lambda: api.client.post(url, json={"status": "contacted"}, headers=cpic), together
    )
    assert statuses(contacted) == [200, 409]
    parties = (await api.client.get(f"/api/cases/{case.id}", headers=case.other)).json()["parties"]
    plate = next(p["plate_number"] for p in parties if p["position"] == 2)
    body = {"status": "assessed", "losses": [{"plate_number": plate, "amount": "800"}]}
    assessed = await twice(lambda: api.client.post(url, json=body, headers=cpic), together)
    assert statuses(assessed) == [200, 409]
    (second,) = [r for r in assessed if r.status_code == 409]
    assert second.json()["detail"] == f"车辆{plate}已定损，不能再次定损"
    stored = await rows(api)
    assert (len(stored["claims"]), len(stored["claim_progress"]), len(stored["assessed_losses"])) == (1, 2, 1)
