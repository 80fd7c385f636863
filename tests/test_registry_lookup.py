"""查询预填: the operator types a plate or a licence number and the registries fill in the rest
of the party's entry; every look-up is audited; a registry that can't answer says so in Chinese."""

from conftest import XIHU, Api
from factories import ACCIDENT_DAY
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit.models import AuditEntry
from kuaichu.principal import Role
from kuaichu.registries.synthetic import demo_drivers, load


async def case_taken(api: Api, load_demo_drivers: bool = True) -> tuple[int, dict[str, str]]:
    if load_demo_drivers:
        await api.context.database.write(lambda s: load(s, demo_drivers(ACCIDENT_DAY)))
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    await api.client.post(f"/api/cases/{case_id}/take", headers=operator)
    return case_id, operator


async def lookups(api: Api) -> list[tuple[str, int | None, dict[str, object]]]:
    def read(session: Session) -> list[tuple[str, int | None, dict[str, object]]]:
        rows = session.execute(
            select(AuditEntry.actor_role, AuditEntry.case_id, AuditEntry.detail)
            .where(AuditEntry.action == "registry_lookup")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]

    return await api.context.database.read(read)


async def test_a_plate_fills_name_vehicle_insurer_and_policy(api: Api) -> None:
    case_id, operator = await case_taken(api)
    response = await api.client.get(
        f"/api/cases/{case_id}/registry-lookup",
        params={"plate_number": "浙A54321", "plate_type": "02"},
        headers=operator,
    )
    assert response.status_code == 200, response.text
    found = response.json()
    # The vehicle type's code fills the form; its label is what the operator reads.
    assert (found["name"], found["vehicle_type"], found["vehicle_type_label"]) == ("李娜", "K33", "小型轿车")
    assert (found["insurer_code"], found["insurer_name"]) == ("CPIC", "中国太平洋财产保险")
    assert found["policy_number"].startswith("PDZA2026")
    assert await lookups(api) == [("operator", case_id, {"by": ["plate"], "outcome": "found"})]


async def test_a_licence_number_fills_the_name_and_shows_its_status(api: Api) -> None:
    case_id, operator = await case_taken(api)
    wang = next(p for p in demo_drivers(ACCIDENT_DAY) if p.name == "王强")
    response = await api.client.get(
        f"/api/cases/{case_id}/registry-lookup",
        params={"licence_number": wang.licence.number},
        headers=operator,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["licence_status"]) == ("王强", "暂扣")


async def test_an_unknown_plate_is_said_in_chinese_and_audited(api: Api) -> None:
    case_id, operator = await case_taken(api)
    response = await api.client.get(
        f"/api/cases/{case_id}/registry-lookup",
        params={"plate_number": "浙A00000", "plate_type": "02"},
        headers=operator,
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "登记信息中未查到该号牌，请核对后手工录入"
    assert [detail["outcome"] for _, _, detail in await lookups(api)] == ["not_found"]


async def test_a_look_up_needs_a_plate_with_its_type_or_a_licence(api: Api) -> None:
    case_id, operator = await case_taken(api)
    url = f"/api/cases/{case_id}/registry-lookup"
    assert (await api.client.get(url, headers=operator)).json()["detail"] == "请填写号牌号码或驾驶证号再查询"
    response = await api.client.get(url, params={"plate_number": "浙A54321"}, headers=operator)
    assert response.json()["detail"] == "请选择号牌种类再按号牌查询"


async def test_only_the_operator_looks_up(api: Api) -> None:
    case_id, _ = await case_taken(api)
    params = {"plate_number": "浙A54321", "plate_type": "02"}
    party = api.party_token("13800000001")
    response = await api.client.get(f"/api/cases/{case_id}/registry-lookup", params=params, headers=party)
    assert response.status_code == 404  # as for any case a caller may not act on
    assert await lookups(api) == []
