"""Role AND ownership: whatever is outside a caller's scope is simply not found."""

from typing import Any

import pytest
from conftest import SHANGCHENG, XIHU, Api
from factories import upload_jpeg
from flows import WalkedCase, evacuated_case

from kuaichu.principal import Role


@pytest.fixture
async def xihu_case(api: Api) -> int:
    reporter = await api.agreed_party("13800000001")
    response = await api.client.post("/api/calls", json=XIHU, headers=reporter)
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def test_party_cannot_read_a_strangers_case(api: Api, xihu_case: int) -> None:
    stranger = await api.party("13700000009")
    for path in (
        f"/api/cases/{xihu_case}",
        f"/api/cases/{xihu_case}/timeline",
        f"/api/cases/{xihu_case}/evidence",
    ):
        response = await api.client.get(path, headers=stranger)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    assert (await api.client.get("/api/cases", headers=stranger)).json() == []
    assert (await upload_jpeg(api.client, stranger, xihu_case)).status_code == 404


async def test_operator_of_another_jurisdiction_gets_404(api: Api, xihu_case: int) -> None:
    shangcheng_operator = await api.staff("op-shangcheng", Role.OPERATOR, "330102")
    assert (await api.client.get(f"/api/cases/{xihu_case}", headers=shangcheng_operator)).status_code == 404
    take = await api.client.post(f"/api/cases/{xihu_case}/take", headers=shangcheng_operator)
    assert take.status_code == 404
    assert (await api.client.get("/api/cases", headers=shangcheng_operator)).json() == []
    xihu_operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    assert (await api.client.get(f"/api/cases/{xihu_case}", headers=xihu_operator)).status_code == 200


async def test_a_party_cannot_act_as_an_operator(api: Api, xihu_case: int) -> None:
    reporter = await api.party("13800000001")
    response = await api.client.post(f"/api/cases/{xihu_case}/take", headers=reporter)
    assert response.status_code == 404
    state = (await api.client.get(f"/api/cases/{xihu_case}", headers=reporter)).json()["state"]
    assert state == "queued"


async def test_only_the_operator_who_took_the_call_may_work_on_it(api: Api, xihu_case: int) -> None:
    first = await api.staff("op-xihu", Role.OPERATOR, "330106")
    second = await api.staff("op2-xihu", Role.OPERATOR, "330106")
    assert (await api.client.post(f"/api/cases/{xihu_case}/take", headers=first)).status_code == 200
    response = await api.client.post(f"/api/cases/{xihu_case}/take", headers=second)
    assert response.status_code == 409
    response = await api.client.post(
        f"/api/cases/{xihu_case}/transfer", json={"reason": "有人受伤"}, headers=second
    )
    assert response.status_code == 403


async def test_requests_without_a_valid_token_are_refused(api: Api, xihu_case: int) -> None:
    assert (await api.client.get(f"/api/cases/{xihu_case}")).status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert (await api.client.get(f"/api/cases/{xihu_case}", headers=forged)).status_code == 401


async def test_a_report_outside_every_jurisdiction_is_refused_clearly(api: Api) -> None:
    reporter = await api.agreed_party("13800000001")
    response = await api.client.post("/api/calls", json={"lat": 39.9, "lng": 116.4}, headers=reporter)
    assert response.status_code == 422
    assert "不在本系统服务的辖区内" in response.json()["detail"]
    assert (await api.client.get("/api/cases", headers=reporter)).json() == []


async def test_shangcheng_reports_go_to_shangcheng(api: Api) -> None:
    reporter = await api.agreed_party("13800000001")
    response = await api.client.post("/api/calls", json=SHANGCHENG, headers=reporter)
    assert response.json()["service"]["jurisdiction_name"] == "上城区"


async def case_read_by_each(api: Api, case: WalkedCase) -> dict[str, dict[str, Any]]:
    """The case as each of its readers gets it: its operator, both parties, a supervisor."""
    readers = {
        "operator": case.operator,
        "reporter": case.reporter,
        "other party": case.other,
        "supervisor": await api.staff("supervisor", Role.SUPERVISOR),
    }
    return {
        who: (await api.client.get(f"/api/cases/{case.id}", headers=headers)).json()
        for who, headers in readers.items()
    }


async def test_each_partys_details_are_whole_for_the_operator_and_that_party_masked_for_others(
    api: Api,
) -> None:
    """A case read answers each party's phone and numbers in full or masked, by who reads."""
    reads = await case_read_by_each(api, await evacuated_case(api))
    fields = ("phone", "id_number", "licence_number")
    masked = {
        who: [["*" in party[field] for field in fields] for party in read["parties"]]
        for who, read in reads.items()
    }
    assert masked == {
        "operator": [[False] * 3, [False] * 3],
        "reporter": [[False] * 3, [True] * 3],  # 张伟 reported: 李娜's details are masked
        "other party": [[True] * 3, [False] * 3],  # and 李娜 sees 张伟's masked
        "supervisor": [[True] * 3, [True] * 3],
    }


async def test_the_reporters_phone_is_whole_for_the_operator_and_masked_for_the_other_party(
    api: Api,
) -> None:
    reads = await case_read_by_each(api, await evacuated_case(api))
    phones = {who: read["reporter_phone"] for who, read in reads.items()}
    assert phones == {
        "operator": "13800000001",
        "reporter": "13800000001",
        "other party": "138****0001",
        "supervisor": "138****0001",
    }
