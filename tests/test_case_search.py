"""Staff find a case by what they know of it (事故编号, a phone, a plate), never an internal id;
each only among the cases they may see; the search itself is audited; bad input is a clear 422."""

import pytest
from casework import LI, ZHANG, collected_case
from conftest import SHANGCHENG, Api
from sqlalchemy import select

from kuaichu.audit.models import AuditEntry
from kuaichu.backoffice.service import CaseQuery, SearchBy, parse_query
from kuaichu.errors import InvalidInput
from kuaichu.principal import Role


async def search(api: Api, headers: dict[str, str], q: str) -> list[dict[str, object]]:
    response = await api.client.get("/api/cases/search", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_officer_finds_the_case_by_number_phone_and_plate(api: Api) -> None:
    case = await collected_case(api)
    for q, by in (
        (case.number, "事故编号"),
        (f"{case.number}-1", "事故编号"),  # a document number names its case
        (LI, "手机号"),
        (ZHANG, "手机号"),
        ("浙A54321", "号牌号码"),
        ("浙a 54321", "号牌号码"),
        ("A54321", "号牌号码"),  # without the province character
    ):
        [found] = await search(api, case.officer, q)
        assert found["number"] == case.number, q
        assert found["matched_by_label"] == by
        assert found["state_label"] == "已撤离现场，等待定责"
    assert [(p["designation"], p["name"], p["phone"]) for p in found["parties"]] == [
        ("甲", "张伟", ZHANG),
        ("乙", "李娜", LI),
    ]
    assert await search(api, case.officer, "浙A99999") == []


async def test_each_role_searches_its_own_scope_and_sees_phones_only_when_it_needs_them(api: Api) -> None:
    case = await collected_case(api)
    elsewhere = await api.staff("officer-shangcheng", Role.OFFICER, "330102")
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    reviewer = await api.staff("reviewer", Role.REVIEWER)

    assert await search(api, elsewhere, "浙A54321") == []  # another jurisdiction's case
    [for_reviewer] = await search(api, reviewer, "浙A54321")
    assert for_reviewer["parties"][1]["phone"] == LI
    [for_supervisor] = await search(api, supervisor, "浙A54321")
    assert for_supervisor["parties"][1]["phone"] == "139****0002"
    # Parties have their own progress view; the search is for staff.
    response = await api.client.get("/api/cases/search", params={"q": case.number}, headers=case.li)
    assert response.status_code == 404

    # A case reported in another jurisdiction by the same phone stays out of this officer's scope.
    other = (await api.client.post("/api/calls", json=SHANGCHENG, headers=case.zhang)).json()
    assert [c["number"] for c in await search(api, case.officer, ZHANG)] == [case.number]
    assert {c["number"] for c in await search(api, supervisor, ZHANG)} == {case.number, other["number"]}


async def test_the_search_is_audited_with_the_phone_masked(api: Api) -> None:
    case = await collected_case(api)
    await search(api, case.officer, LI)
    await search(api, case.officer, "浙A99999")

    entries = await api.context.database.read(
        lambda s: [
            (e.actor_label, e.case_id, e.detail)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action == "search_cases").order_by(AuditEntry.id)
            )
        ]
    )
    assert entries == [
        ("officer-xihu姓名", case.id, {"by": "phone", "query": "139****0002"}),
        ("officer-xihu姓名", None, {"by": "plate", "query": "浙A99999", "found": 0}),
    ]
    replay = await api.client.get(
        f"/api/supervision/cases/{case.id}/replay", headers=await api.staff("supervisor", Role.SUPERVISOR)
    )
    assert "检索案件" in [line["action_label"] for line in replay.json()["access_log"]]


async def test_what_is_neither_a_number_a_phone_nor_a_plate_is_refused_in_chinese(api: Api) -> None:
    case = await collected_case(api)
    for q in (
        "",
        "   ",
        "12345",
        "1" * 20,
        "张伟",
        "%",
        "_" * 8,
        "浙" * 5_000,
        "1" * 10_000,
    ):
        response = await api.client.get("/api/cases/search", params={"q": q}, headers=case.officer)
        assert response.status_code == 422, (q[:20], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "事故编号" in response.json()["detail"]
    for q in ("x\x00y", "浙A12345\x00"):  # refused before any route: PostgreSQL can't hold NUL
        response = await api.client.get("/api/cases/search", params={"q": q}, headers=case.officer)
        assert response.status_code == 422
        assert "非法字符" in response.json()["detail"]
    missing = await api.client.get("/api/cases/search", headers=case.officer)
    assert missing.status_code == 422


def test_the_search_rule_reads_numbers_phones_and_plates_and_refuses_control_characters() -> None:
    assert parse_query(" 3301062026112500001-2 ") == CaseQuery(SearchBy.NUMBER, "3301062026112500001")
    assert parse_query("13900000002") == CaseQuery(SearchBy.PHONE, "13900000002")
    assert parse_query("浙ad·12345") == CaseQuery(SearchBy.PLATE, "浙AD12345")
    for text in ("x\x00y", "浙A12345\x07", "1" * 41):
        with pytest.raises(InvalidInput, match="事故编号"):
            parse_query(text)
