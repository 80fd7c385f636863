"""Bad input gets a clear problem+json error and changes nothing."""

import pytest
from conftest import Api
from factories import FACTS, party_body, signature_upload
from flows import evacuated_case, in_call_case
from insurer_seats import agent

from kuaichu.auth.service import create_insurer
from kuaichu.principal import Role


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("plate_number", "浙AI2345", "号牌号码格式不正确"),
        ("id_number", "110105194912310021", "校验位"),
        ("phone", "1234", "手机号码"),
        ("vehicle_type", "小型轿车", "车辆类型应为以下之一：K33（小型轿车）"),
        ("plate_type", "99", "号牌种类应为以下之一：01（大型汽车）"),
    ],
)
async def test_a_wrong_party_field_is_named_and_nothing_is_saved(
    api: Api, taken_call: tuple[int, dict[str, str]], field: str, value: str, message: str
) -> None:
    case_id, operator = taken_call
    party = party_body("13800000001", "浙A12345") | {field: value}
    body = {"parties": [party, party_body("13900000002", "浙A54321", "李娜", "456")]}
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in str(response.json()["errors"])
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["parties"] == []


async def test_an_accident_in_the_future_is_refused(api: Api, taken_call: tuple[int, dict[str, str]]) -> None:
    case_id, operator = taken_call
    facts = FACTS | {"occurred_at": "2026-11-25T11:00:00+08:00"}
    response = await api.client.put(f"/api/cases/{case_id}/facts", json=facts, headers=operator)
    assert response.status_code == 422
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["accident_type"] is None


@pytest.mark.parametrize("accident_type", ["drag_race", "追尾"])  # a word is no code, not even the list's
async def test_an_accident_type_outside_the_catalogue_is_refused_with_the_codes_to_send(
    api: Api, taken_call: tuple[int, dict[str, str]], accident_type: str
) -> None:
    case_id, operator = taken_call
    response = await api.client.put(
        f"/api/cases/{case_id}/facts", json=FACTS | {"accident_type": accident_type}, headers=operator
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "accident_type"
    assert error["message"].startswith("事故类型应为以下之一：rear_end（追尾）、lane_change（变更车道）")
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["accident_type"] is None


async def test_an_english_reader_is_told_the_codes_in_english(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    response = await api.client.put(
        f"/api/cases/{case_id}/facts",
        json=FACTS | {"weather": "sunny"},
        headers=operator | {"Accept-Language": "en"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "weather"
    assert "clear (Clear), overcast (Overcast), rain (Rain)" in error["message"]


async def test_collection_cannot_complete_without_the_evidence(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    response = await api.client.post(f"/api/cases/{case_id}/collection-complete", headers=operator)
    assert response.status_code == 409
    assert {item["code"] for item in response.json()["missing"]} >= {
        "accident_facts",
        "parties",
        "eligibility_not_judged",
        "still_missing",
    }
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["state"] == "in_call"


async def test_evacuating_before_collection_is_complete_is_an_illegal_transition(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    response = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert response.status_code == 409
    assert "视频取证中" in response.json()["detail"]


@pytest.mark.parametrize(
    "grades",
    [["full", "full"], ["main", "none"], ["main", "main"], ["minor", "none"], ["full"]],
)
async def test_responsibility_grades_that_cannot_stand_together_are_refused(
    api: Api, grades: list[str]
) -> None:
    case = await evacuated_case(api)
    shares = [{"party_id": pid, "responsibility": g} for pid, g in zip(case.party_ids, grades, strict=False)]
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json={"shares": shares}, headers=case.officer
    )
    assert response.status_code == 422
    assert (await api.client.get(f"/api/cases/{case.id}", headers=case.officer)).json()[
        "state"
    ] == "evacuated"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/calls", "not json"),
        ("post", "/api/calls", {"lat": "north", "lng": 120}),
        ("post", "/api/calls", {"lat": 930, "lng": 120}),
        ("get", "/api/cases/abc", None),
        ("get", "/api/cases?state=flying", None),
        ("get", "/api/cases/99999999999999999999999", None),
        ("get", "/no/such/page", None),
    ],
)
async def test_malformed_requests_never_cause_a_server_error(
    api: Api, method: str, path: str, body: object
) -> None:
    headers = api.party_token("13800000001")
    if isinstance(body, str):
        response = await api.client.request(method, path, content=body, headers=headers)
    else:
        response = await api.client.request(method, path, json=body, headers=headers)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_a_validation_error_names_the_field_in_chinese_and_keeps_its_path(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    first = party_body("13800000001", "浙A12345")
    second = party_body("13900000002", "浙A54321", "李娜", "456")
    for wrong, field, message in (
        ({"name": "李"}, "parties.1.name", "当事人2 姓名 至少2个字"),
        ({"plate_type": "52"}, "parties.1", "当事人2 新能源号牌格式不正确"),
    ):
        body = {"parties": [first, second | wrong]}
        response = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator)
        assert response.status_code == 422
        problem = response.json()
        assert [(e["field"], e["message"]) for e in problem["errors"]] == [(field, message)]
        assert problem["detail"] == f"请检查：{message}"
    facts = FACTS | {"address": "x"}
    response = await api.client.put(f"/api/cases/{case_id}/facts", json=facts, headers=operator)
    assert response.json()["detail"] == "请检查：地点 至少2个字"


async def test_a_nul_character_anywhere_is_refused_before_it_reaches_the_database(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    facts = FACTS | {"address": "西湖区\u0000文三路"}
    refused = [
        await api.client.put(f"/api/cases/{case_id}/facts", json=facts, headers=operator),
        await api.client.post("/api/auth/staff", json={"username": "op\u0000", "password": "x"}),
        await api.client.get("/verify/3301%00", headers=operator),
        await api.client.get("/api/cases/search?q=%00", headers=operator),
    ]
    assert [r.status_code for r in refused] == [422] * 4
    assert all("非法字符" in r.json()["detail"] for r in refused)
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["address"] is None


async def test_a_time_without_a_zone_and_an_id_beyond_the_column_are_refused(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    naive = FACTS | {"occurred_at": "2026-11-25T09:50:00"}
    response = await api.client.put(f"/api/cases/{case_id}/facts", json=naive, headers=operator)
    assert response.status_code == 422
    assert "须带时区" in response.json()["detail"]
    assert (await api.client.get(f"/api/cases/{2**31}", headers=operator)).status_code == 422


async def test_an_oversized_body_is_still_413(api: Api, taken_call: tuple[int, dict[str, str]]) -> None:
    case_id, operator = taken_call
    huge = FACTS | {"description": "长" * (2 * 1024 * 1024)}
    response = await api.client.put(f"/api/cases/{case_id}/facts", json=huge, headers=operator)
    assert response.status_code == 413


NEWEST_WRITES = [
    ("party", "/api/cases/{id}/signature", "upload"),
    ("party", "/api/cases/{id}/dispute", {"reason": "事实记录有误"}),
    ("party", "/api/cases/{id}/settlement/confirm", None),
    ("party", "/api/cases/{id}/claim", None),
    ("operator", "/api/cases/{id}/join-link/sms", {"phone": "13700000007"}),
    ("operator", "/api/cases/{id}/join-link/revoke", None),
    ("operator", "/api/cases/{id}/joins/admit", {"join_id": 1}),
    ("operator", "/api/cases/{id}/joins/refuse", {"join_id": 1}),
    ("operator", "/api/cases/{id}/insurer-invitations", {"insurer_code": "CPIC"}),
    ("operator", "/api/cases/{id}/readings/1", None),
    ("operator", "/api/cases/1/readings/{id}", None),
    ("agent", "/api/cases/{id}/insurer-seat/leave", None),
]


@pytest.mark.parametrize("row_id", [2**31, 2**63, -1, 0])
async def test_an_id_out_of_range_on_the_newest_writes_is_a_clear_422(api: Api, row_id: int) -> None:
    callers = {
        "party": api.party_token("13800000001"),
        "operator": await api.staff("op-xihu", Role.OPERATOR, "330106"),
        "agent": await agent(api, "cpic-wang", "CPIC"),
    }
    for who, path, body in NEWEST_WRITES:
        url = path.format(id=row_id)
        if body == "upload":
            sent = signature_upload("0" * 64)
            response = await api.client.post(url, headers=callers[who], **sent)
        else:
            response = await api.client.post(url, json=body, headers=callers[who])
        assert response.status_code == 422, (url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "请检查" in response.json()["detail"], url
    insurer = await api.context.database.write(
        lambda s: create_insurer(s, code="PICC", name="PICC", webhook_url=None, now=api.context.clock.now())[
            1
        ]
    )
    progress = await api.client.post(
        f"/api/insurer/claims/{row_id}/progress", json={"status": "contacted"}, headers={"X-API-Key": insurer}
    )
    assert progress.status_code == 422, progress.text
    for join_id in (2**31, 2**63, -1):
        refused = await api.client.post(
            "/api/cases/1/joins/refuse", json={"join_id": join_id}, headers=callers["operator"]
        )
        assert refused.status_code == 422, refused.text


async def test_a_nul_character_in_the_newest_writes_is_refused(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟")
    party = api.party_token("13800000001")
    refused = [
        await api.client.post("/api/joins", json={"token": "a\u0000b"}, headers=party),
        await api.client.post(
            f"/api/cases/{case_id}/dispute", json={"reason": "有\u0000异议"}, headers=party
        ),
        await api.client.post(
            f"/api/cases/{case_id}/join-link/sms", json={"phone": "1370000000\u0000"}, headers=operator
        ),
        await api.client.post(
            f"/api/cases/{case_id}/insurer-invitations", json={"insurer_code": "CP\u0000IC"}, headers=operator
        ),
        await api.client.post(
            "/api/calls/phone-report",
            json={"phone": "13600000006", "address": "文三\u0000路"},
            headers=operator,
        ),
        await api.client.post(
            f"/api/cases/{case_id}/signature", headers=party, **signature_upload("\u0000" * 64)
        ),
    ]
    assert [r.status_code for r in refused] == [422] * 6, [r.text for r in refused]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["state"] == "in_call"
    assert await api.sms_to("13700000000") == []
