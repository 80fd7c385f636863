"""自行协商: two parties settle a simple accident themselves, then claim as after a determination."""

import asyncio
from typing import Any

import httpx
from conftest import XIHU, Api
from factories import FACTS, party_body
from sqlalchemy import func, select

from kuaichu.principal import Role
from kuaichu.settlement.models import Agreement

A, B = "13800000001", "13900000002"


def _proposal(**changes: Any) -> dict[str, Any]:
    body = {
        "location": XIHU,
        "facts": FACTS,
        "parties": {"parties": [party_body(A, "浙A12345"), party_body(B, "浙A54321", "李娜", "456")]},
        "shares": [{"position": 1, "responsibility": "none"}, {"position": 2, "responsibility": "full"}],
    }
    return body | changes


async def test_both_parties_agree_and_the_claim_follows_the_agreement(api: Api) -> None:
    a, b = api.party_token(A), api.party_token(B)
    response = await api.client.post("/api/settlements", json=_proposal(), headers=a)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["state"] == "agreement_pending"
    assert any("发起自行协商" in text for text in await api.sms_to(B))

    assert (
        await api.client.post(f"/api/cases/{case['id']}/settlement/confirm", headers=a)
    ).status_code == 403
    confirmed = await api.client.post(f"/api/cases/{case['id']}/settlement/confirm", headers=b)
    assert confirmed.json()["state"] == "agreed"
    claim = await api.client.post(f"/api/cases/{case['id']}/claim", headers=a)
    assert claim.status_code == 201, claim.text
    timeline = (await api.client.get(f"/api/cases/{case['id']}/timeline", headers=b)).json()
    assert [e["kind"] for e in timeline] == ["propose_agreement", "confirm_agreement", "push_claim"]
    # No operator of the jurisdiction ever had to take it.
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    assert (await api.client.get("/api/cases?state=queued", headers=operator)).json() == []


async def test_a_disputed_agreement_goes_to_police_on_site(api: Api) -> None:
    a, b = api.party_token(A), api.party_token(B)
    case = (await api.client.post("/api/settlements", json=_proposal(), headers=a)).json()
    rejected = await api.client.post(f"/api/cases/{case['id']}/settlement/reject", headers=b)
    assert rejected.json()["state"] == "transferred"
    assert any("拨打122" in text for text in await api.sms_to(A))
    assert (await api.client.post(f"/api/cases/{case['id']}/claim", headers=a)).status_code == 409


async def test_grades_that_cannot_stand_together_are_refused(api: Api) -> None:
    shares = [{"position": 1, "responsibility": "main"}, {"position": 2, "responsibility": "main"}]
    response = await api.client.post(
        "/api/settlements", json=_proposal(shares=shares), headers=api.party_token(A)
    )
    assert response.status_code == 422
    assert (await api.client.get("/api/cases", headers=api.party_token(A))).json() == []


async def test_only_a_party_to_the_accident_may_propose(api: Api) -> None:
    response = await api.client.post(
        "/api/settlements", json=_proposal(), headers=api.party_token("13700000000")
    )
    assert response.status_code == 422
    assert "发起人" in response.json()["detail"]


async def test_a_stranger_cannot_confirm(api: Api) -> None:
    case = (await api.client.post("/api/settlements", json=_proposal(), headers=api.party_token(A))).json()
    stranger = api.party_token("13700000000")
    assert (
        await api.client.post(f"/api/cases/{case['id']}/settlement/confirm", headers=stranger)
    ).status_code == 404


async def test_a_stranger_named_in_proposals_gets_only_the_fixed_text_and_only_so_many(api: Api) -> None:
    attacker = api.party_token(A)
    greeting = party_body(B, "浙A54321", "车主请速登录kcpay退保证金", "456")
    body = _proposal(parties={"parties": [party_body(A, "浙A12345"), greeting]})
    answers = [
        (await api.client.post("/api/settlements", json=body, headers=attacker)).status_code
        for _ in range(10)
    ]

    limit = api.context.settings.settlements_per_proposer_per_day
    assert answers == [201] * limit + [429] * (10 - limit)
    texts = await api.sms_to(B)
    assert len(texts) == limit
    assert all("退保证金" not in text and "kcpay" not in text for text in texts)
    assert all(text.startswith("【快处】") and "/party" in text for text in texts)


async def test_one_phone_receives_a_limited_number_of_proposals_from_anyone(api: Api) -> None:
    senders = [f"1380000100{n}" for n in range(5)]
    statuses = []
    for sender in senders:
        body = _proposal(
            parties={"parties": [party_body(sender, "浙A12345"), party_body(B, "浙A54321", "李娜", "456")]}
        )
        response = await api.client.post("/api/settlements", json=body, headers=api.party_token(sender))
        statuses.append(response.status_code)
    limit = api.context.settings.settlements_per_recipient_per_day
    assert statuses == [201] * limit + [429] * (len(senders) - limit)
    refused = await api.client.post(
        "/api/settlements",
        json=_proposal(
            parties={"parties": [party_body(A, "浙A12345"), party_body(B, "浙A54321", "李娜", "456")]}
        ),
        headers=api.party_token(A),
    )
    assert "对方手机号" in refused.json()["detail"]


async def _propose_at_once(api: Api, pairs: list[tuple[str, str]]) -> list[httpx.Response]:
    """Each (proposer, recipient) pair sends its proposal at the same moment as all the others."""

    def body(proposer: str, recipient: str) -> dict[str, Any]:
        parties = [party_body(proposer, "浙A12345"), party_body(recipient, "浙A54321", "李娜", "456")]
        return _proposal(parties={"parties": parties})

    return await asyncio.gather(
        *(api.client.post("/api/settlements", json=body(p, r), headers=api.party_token(p)) for p, r in pairs)
    )


async def _agreements(api: Api) -> int:
    return await api.context.database.read(
        lambda s: s.scalar(select(func.count()).select_from(Agreement)) or 0
    )


async def test_simultaneous_proposals_to_one_phone_send_it_only_so_many_sms(api: Api) -> None:
    answers = await _propose_at_once(api, [(f"1380000{n:04d}", B) for n in range(20)])

    limit = api.context.settings.settlements_per_recipient_per_day
    assert sorted(a.status_code for a in answers) == [201] * limit + [429] * (20 - limit)
    refusals = {a.json()["detail"] for a in answers if a.status_code == 429}
    assert refusals == {"对方手机号今天收到的协商通知已达上限，请拨打122处理"}
    assert len(await api.sms_to(B)) == limit
    assert await _agreements(api) == limit


async def test_simultaneous_proposals_from_one_address_stop_at_its_limit(api: Api) -> None:
    answers = await _propose_at_once(api, [(f"1380000{n:04d}", f"1390000{n:04d}") for n in range(20)])

    limit = api.context.settings.settlements_per_address_per_day
    assert sorted(a.status_code for a in answers) == [201] * limit + [429] * (20 - limit)
    refusals = {a.json()["detail"] for a in answers if a.status_code == 429}
    assert refusals == {"当前网络今天发起的自行协商次数已达上限，请稍后再试"}
    assert await _agreements(api) == limit
