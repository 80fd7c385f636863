"""The other parties join from their own phones (issue 12): the case's join link (QR code on the
reporting party's screen, or the operator's SMS), the SMS login, the operator admitting the next
party; and everything a hurried, mistaken or malicious user does with it, refused in words and
with nothing changed."""

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from conftest import XIHU, Api
from factories import FACTS, demo_party
from flows import OTHER, REPORTER, demo_registry, in_call_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_three_vehicles import THIRD_PHONE, _party, _third_driver

from kuaichu.audit.models import AuditEntry
from kuaichu.auth.service import party_principal
from kuaichu.calls.connections import check_may_join
from kuaichu.cases.models import CaseParty
from kuaichu.clock import FrozenClock
from kuaichu.errors import Forbidden
from kuaichu.invitations.models import JoinInvitation, JoinRequest
from kuaichu.principal import Role
from kuaichu.retention.personal import purge_personal_data
from kuaichu.tables import Base

STRANGER = "13700000009"
LINK = re.compile(r"http://\S+/party#join=([A-Za-z0-9_-]{43})")


def _details(body: dict[str, object]) -> dict[str, object]:
    """The party form's fields without the phone: the phone is the one that logged in."""
    return {key: value for key, value in body.items() if key != "phone"}


async def _token(api: Api, case_id: int) -> str:
    response = await api.client.get(f"/api/cases/{case_id}/join-link", headers=api.party_token(REPORTER))
    assert response.status_code == 200, response.text
    found = LINK.fullmatch(response.json()["link"])
    assert found, response.json()
    return found[1]


async def _ask(api: Api, phone: str, token: str) -> dict[str, object]:
    response = await api.client.post("/api/joins", json={"token": token}, headers=api.party_token(phone))
    assert response.status_code == 200, response.text
    return response.json()


async def _rows(api: Api, case_id: int) -> dict[str, list[tuple[object, ...]]]:
    """Everything stored about the case but the audit log (reads are audited too)."""

    def read(session: Session) -> dict[str, list[tuple[object, ...]]]:
        rows = {}
        for table in Base.metadata.sorted_tables:
            if "case_id" in table.c and not table.name.startswith("audit"):
                query = select(table).where(table.c.case_id == case_id)
                rows[table.name] = sorted(map(tuple, session.execute(query).all()), key=repr)
        return rows

    return await api.context.database.read(read)


async def _refused(api: Api, case_id: int, call, status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    before = await _rows(api, case_id)
    response = await call()
    assert response.status_code == status, response.text
    assert words in response.json()["detail"], response.json()
    assert await _rows(api, case_id) == before


async def test_a_second_party_joins_by_the_qr_code_and_reads_the_case_once_admitted(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    reporter = api.party_token(REPORTER)
    code = await api.client.get(f"/api/cases/{case_id}/join-code.svg", headers=reporter)
    assert code.status_code == 200
    assert code.headers["content-type"] == "image/svg+xml"
    assert code.content.startswith(b"<?xml") and b"<svg" in code.content
    token = await _token(api, case_id)
    assert await _token(api, case_id) == token, "the same link while it lives"

    # Only the token's hash is stored.
    stored = await api.context.database.read(lambda s: s.scalars(select(JoinInvitation)).one())
    assert token not in (stored.seed, stored.token_hash)

    li_na = await api.party(OTHER)  # the SMS login, like any party
    asked = await api.client.post("/api/joins", json={"token": token}, headers=li_na)
    assert asked.json() == {"id": asked.json()["id"], "state": "waiting", "case_id": None}
    again = await api.client.post("/api/joins", json={"token": token}, headers=li_na)
    assert again.json() == asked.json(), "a reload is the same request"
    # Waiting, the link's holder reads nothing of the case.
    assert (await api.client.get(f"/api/cases/{case_id}", headers=li_na)).status_code == 404
    assert (await api.client.get("/api/cases", headers=li_na)).json() == []

    waiting = (await api.client.get(f"/api/cases/{case_id}/joins", headers=operator)).json()
    assert [(w["phone"], w["state"]) for w in waiting] == [("139****0002", "waiting")]

    body = {"join_id": asked.json()["id"], **_details(demo_party("李娜"))}
    admitted = await api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator)
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["position"] == 2
    parties = admitted.json()["case"]["parties"]
    assert [(p["position"], p["name"], p["phone"]) for p in parties] == [
        (1, "张伟", REPORTER),
        (2, "李娜", OTHER),
    ]

    mine = await api.client.get(f"/api/joins/{asked.json()['id']}", headers=li_na)
    assert mine.json() == {"id": asked.json()["id"], "state": "admitted", "case_id": case_id}
    read = await api.client.get(f"/api/cases/{case_id}", headers=li_na)
    assert read.status_code == 200 and read.json()["number"]
    # Her own registry checks, as each party's.
    checks = await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    assert checks.status_code == 200, checks.text
    assert {c["party_position"] for c in checks.json()} >= {1, 2}
    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    assert any(e["kind"] == "party_joined" and e["detail"] == {"position": 2} for e in timeline)


async def test_the_operator_sends_the_link_by_a_fixed_sms_masked_in_the_audit(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    response = await api.client.post(
        f"/api/cases/{case_id}/join-link/sms", json={"phone": THIRD_PHONE}, headers=operator
    )
    assert response.status_code == 202, response.text
    [sms] = await api.sms_to(THIRD_PHONE)
    number = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["number"]
    link = response.json()["link"]
    assert sms.startswith("【快处】") and number in sms and link in sms
    token = LINK.fullmatch(link)[1]  # type: ignore[index]

    def audited(session: Session) -> list[dict[str, object]]:
        return [
            e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "send_join_link"))
        ]

    assert await api.context.database.read(audited) == [{"phone": "133****0007"}]

    wang = await _ask(api, THIRD_PHONE, token)
    body = {"join_id": wang["id"], **_details(_party(_third_driver()))}
    admitted = await api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator)
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["position"] == 3


@pytest.mark.parametrize("phone", ["1380000000", "23800000001", "138000000011", "手机号"])
async def test_a_wrong_phone_is_a_clear_422(api: Api, phone: str) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    await _refused(
        api,
        case_id,
        lambda: api.client.post(
            f"/api/cases/{case_id}/join-link/sms", json={"phone": phone}, headers=operator
        ),
        422,
        "手机号",
    )


async def test_join_sms_are_limited_per_case(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    limit = api.context.settings.join_sms_per_case_per_hour
    for n in range(limit):
        phone = f"1360000000{n}"
        response = await api.client.post(
            f"/api/cases/{case_id}/join-link/sms", json={"phone": phone}, headers=operator
        )
        assert response.status_code == 202, response.text
    await _refused(
        api,
        case_id,
        lambda: api.client.post(
            f"/api/cases/{case_id}/join-link/sms", json={"phone": STRANGER}, headers=operator
        ),
        429,
        "每小时上限",
    )


async def test_wrong_revoked_and_expired_links_are_refused(api: Api, clock: FrozenClock) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    token = await _token(api, case_id)
    stranger = api.party_token(STRANGER)
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "../../etc"):
        await _refused(
            api,
            case_id,
            lambda w=wrong: api.client.post("/api/joins", json={"token": w}, headers=stranger),
            404,
            "链接无效",
        )
    revoked = await api.client.post(f"/api/cases/{case_id}/join-link/revoke", headers=operator)
    assert revoked.status_code == 204
    await _refused(
        api,
        case_id,
        lambda: api.client.post("/api/joins", json={"token": token}, headers=stranger),
        410,
        "已作废",
    )
    fresh = await _token(api, case_id)
    assert fresh != token, "a revoked link is replaced by a new one"
    clock.advance(timedelta(minutes=api.context.settings.join_link_minutes + 1))
    await _refused(
        api,
        case_id,
        lambda: api.client.post("/api/joins", json={"token": fresh}, headers=stranger),
        410,
        "已过期",
    )


async def test_the_reporter_the_same_phone_twice_and_a_refused_phone(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    token = await _token(api, case_id)

    def ask(phone: str):  # type: ignore[no-untyped-def]
        return lambda: api.client.post("/api/joins", json={"token": token}, headers=api.party_token(phone))

    await _refused(api, case_id, ask(REPORTER), 409, "报警人")
    await _refused(api, case_id, ask(OTHER), 409, "已是本案当事人")
    waiting = await _ask(api, STRANGER, token)
    refused = await api.client.post(
        f"/api/cases/{case_id}/joins/refuse", json={"join_id": waiting["id"]}, headers=operator
    )
    assert refused.status_code == 204
    await _refused(api, case_id, ask(STRANGER), 409, "拒绝")
    body = {"join_id": waiting["id"], **_details(demo_party("李娜"))}
    await _refused(
        api,
        case_id,
        lambda: api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator),
        409,
        "已处理",
    )
    assert (
        await api.client.get(f"/api/cases/{case_id}", headers=api.party_token(STRANGER))
    ).status_code == 404


async def test_beyond_the_jurisdictions_vehicles_nobody_is_admitted(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    three = {"parties": [demo_party("张伟"), demo_party("李娜"), _party(_third_driver())]}
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=three, headers=operator)
    assert response.status_code == 200, response.text
    waiting = await _ask(api, STRANGER, await _token(api, case_id))
    body = {"join_id": waiting["id"], **_details(demo_party("李娜")), "plate_number": "浙A99C99"}
    await _refused(
        api,
        case_id,
        lambda: api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator),
        409,
        "上限（3辆车）",
    )


async def test_only_the_operator_on_the_call_decides_and_a_closed_case_takes_nobody(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    token = await _token(api, case_id)
    waiting = await _ask(api, OTHER, token)
    other = await api.staff("op2-xihu", Role.OPERATOR, "330106")
    body = {"join_id": waiting["id"], **_details(demo_party("李娜"))}
    for path, json in (("joins/admit", body), ("joins/refuse", {"join_id": waiting["id"]})):
        await _refused(
            api,
            case_id,
            lambda p=path, j=json: api.client.post(f"/api/cases/{case_id}/{p}", json=j, headers=other),
            403,
            "接警的坐席",
        )
    await _refused(
        api,
        case_id,
        lambda: api.client.post(
            f"/api/cases/{case_id}/join-link/sms", json={"phone": STRANGER}, headers=other
        ),
        403,
        "接警的坐席",
    )
    # Another party of the case does not show the code: the reporting party does.
    shown = await api.client.get(f"/api/cases/{case_id}/join-link", headers=api.party_token(STRANGER))
    assert shown.status_code == 404

    transfer = await api.client.post(
        f"/api/cases/{case_id}/transfer", json={"reason": "有人受伤"}, headers=operator
    )
    assert transfer.status_code == 200, transfer.text
    await _refused(
        api,
        case_id,
        lambda: api.client.post("/api/joins", json={"token": token}, headers=api.party_token(STRANGER)),
        409,
        "不在视频通话中",
    )
    await _refused(
        api,
        case_id,
        lambda: api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator),
        409,
        "不能再加入",
    )
    shown = await api.client.get(f"/api/cases/{case_id}/join-link", headers=api.party_token(REPORTER))
    assert shown.status_code == 409


async def test_a_122_caller_gets_a_case_in_the_operators_hands_and_the_link(api: Api) -> None:
    await demo_registry(api)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    caller = {"phone": REPORTER, "address": "文三路与学院路口"}
    opened = await api.client.post("/api/calls/phone-report", json=caller, headers=operator)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    current = (await api.client.get("/api/calls/current", headers=operator)).json()
    assert current["case_id"] == case_id and current["presence"]["status"] == "busy"
    case = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    assert (case["state"], case["address"], case["jurisdiction_code"]) == (
        "in_call",
        "文三路与学院路口",
        "330106",
    )
    [sms] = await api.sms_to(REPORTER)
    assert opened.json()["number"] in sms and "#join=" in sms
    # The caller logs in by the link and is on their own case, as if they had reported it.
    zhang = await api.party(REPORTER)
    active = (await api.client.get("/api/calls/active", headers=zhang)).json()
    assert active["case_id"] == case_id
    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    assert [e["kind"] for e in timeline][:2] == ["phone_report", "take"]
    # The operator records the facts as in any call.
    facts = await api.client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator)
    assert facts.status_code == 200, facts.text

    # Busy with that call, the operator opens no other; a caller with a case gets no second.
    again = {"phone": OTHER, "address": "文三路与学院路口"}
    response = await api.client.post("/api/calls/phone-report", json=again, headers=operator)
    assert response.status_code == 409 and "结束当前通话" in response.json()["detail"]
    free = await api.staff("op2-xihu", Role.OPERATOR, "330106")
    response = await api.client.post("/api/calls/phone-report", json=caller, headers=free)
    assert response.status_code == 409 and opened.json()["number"] in response.json()["detail"]

    def counted(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(CaseParty)) or 0

    assert await api.context.database.read(counted) == 0


async def test_the_party_page_phone_of_a_reporter_in_the_queue_cannot_be_joined(api: Api) -> None:
    """A case still waiting for an operator has no link to show: nobody could admit anyone."""
    reporter = await api.agreed_party(REPORTER)
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    response = await api.client.get(f"/api/cases/{case_id}/join-link", headers=reporter)
    assert response.status_code == 409
    assert "不能再加入其他当事人" in response.json()["detail"]

    def requests(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(JoinRequest)) or 0

    assert await api.context.database.read(requests) == 0


async def test_retention_forgets_who_asked_to_join(api: Api) -> None:
    case_id, _ = await in_call_case(api, "张伟")
    await _ask(api, STRANGER, await _token(api, case_id))
    secret = api.context.settings.effective_phone_key_secret
    now = api.context.clock.now()
    purged = await api.context.database.write(lambda s: purge_personal_data(s, case_id, secret, now))
    assert purged["join_requests"] == 1

    def phones(session: Session) -> list[str]:
        return list(session.scalars(select(JoinRequest.phone)))

    assert await api.context.database.read(phones) == []


async def test_without_a_media_server_the_call_stays_the_reporters(api: Api) -> None:
    """The signaling server lets a party who joined by the link into the call's room only when
    a media server takes more than two; one to one, the call is the reporting party's."""
    case_id, operator = await in_call_case(api, "张伟")
    waiting = await _ask(api, OTHER, await _token(api, case_id))
    body = {"join_id": waiting["id"], **_details(demo_party("李娜"))}
    admitted = await api.client.post(f"/api/cases/{case_id}/joins/admit", json=body, headers=operator)
    assert admitted.status_code == 200, admitted.text

    def may_join(phone: str, one_to_one: bool) -> Callable[[Session], object]:
        return lambda s: check_may_join(s, party_principal(phone), case_id, one_to_one)

    await api.context.database.read(may_join(REPORTER, one_to_one=True))
    await api.context.database.read(may_join(OTHER, one_to_one=False))
    with pytest.raises(Forbidden) as refused:
        await api.context.database.read(may_join(OTHER, one_to_one=True))
    assert "报警人的通话" in refused.value.detail
