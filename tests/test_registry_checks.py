"""自动核验: every failure reason each registry check gives, and the checks on a live case."""

from datetime import date, timedelta

import pytest
from conftest import XIHU, Api
from factories import ACCIDENT_DAY, FACTS, demo_party, id_number

from kuaichu.cases.catalogue import VehicleType
from kuaichu.cases.identifiers import validate_id_number, validate_plate
from kuaichu.messages import Locale
from kuaichu.principal import Role
from kuaichu.registries.adapters import LicenceRecord, PolicyRecord, VehicleRecord
from kuaichu.registries.checks import check_insurance, check_licence, check_vehicle
from kuaichu.registries.synthetic import demo_drivers, generate, load

NUMBER = id_number()


def licence(**changes: object) -> LicenceRecord:
    values: dict[str, object] = {
        "number": NUMBER,
        "name": "张伟",
        "classes": "C1",
        "status": "正常",
        "valid_until": date(2030, 1, 1),
    }
    return LicenceRecord(**(values | changes))  # type: ignore[arg-type]


def vehicle(**changes: object) -> VehicleRecord:
    values: dict[str, object] = {
        "plate_number": "浙A12345",
        "plate_type": "02",
        "owner": "张伟",
        "vehicle_type": VehicleType.SMALL_CAR,
        "status": "正常",
        "inspection_valid_until": date(2027, 6, 30),
    }
    return VehicleRecord(**(values | changes))  # type: ignore[arg-type]


def policy(**changes: object) -> PolicyRecord:
    values: dict[str, object] = {
        "policy_number": "PDZA202633010600001",
        "insurer_code": "PICC",
        "insurer_name": "中国人民财产保险",
        "plate_number": "浙A12345",
        "plate_type": "02",
        "starts_on": date(2026, 3, 1),
        "ends_on": date(2027, 2, 28),
    }
    return PolicyRecord(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "vehicle_type", "code", "reason"),
    [
        (None, VehicleType.SMALL_CAR, "licence_not_found", "驾驶证信息未查到"),
        (licence(name="张卫"), VehicleType.SMALL_CAR, "licence_name_mismatch", "姓名不符"),
        (licence(status="暂扣"), VehicleType.SMALL_CAR, "licence_suspended", "驾驶证状态为“暂扣”"),
        (licence(status="吊销"), VehicleType.SMALL_CAR, "licence_revoked", "驾驶证状态为“吊销”"),
        (licence(status="注销"), VehicleType.SMALL_CAR, "licence_cancelled", "驾驶证状态为“注销”"),
        (licence(status="超分"), VehicleType.SMALL_CAR, "licence_points_exceeded", "驾驶证状态为“超分”"),
        (
            licence(valid_until=date(2026, 11, 24)),
            VehicleType.SMALL_CAR,
            "licence_expired",
            "已于2026-11-24过期",
        ),
        (
            licence(classes="C1"),
            VehicleType.LARGE_BUS,
            "licence_class_mismatch",
            "准驾车型C1不能驾驶大型普通客车",
        ),
        (licence(classes="C2"), VehicleType.LIGHT_TRUCK, "licence_class_mismatch", "需C1或更高准驾车型"),
    ],
)
def test_licence_failures(record: LicenceRecord | None, vehicle_type: str, code: str, reason: str) -> None:
    finding = check_licence(record, "张伟", vehicle_type, ACCIDENT_DAY)
    assert [f.code for f in finding.failures] == [code]
    assert reason in finding.failures[0].reason


@pytest.mark.parametrize(
    ("classes", "vehicle_type"),
    [
        ("C1", VehicleType.SMALL_CAR),
        ("A1", VehicleType.SMALL_CAR),
        ("A2", VehicleType.HEAVY_SEMI_TRAILER_TRACTOR),
    ],
)
def test_a_higher_class_covers_the_lower_ones(classes: str, vehicle_type: str) -> None:
    # Valid through the accident day itself.
    record = licence(classes=classes, valid_until=ACCIDENT_DAY)
    assert check_licence(record, "张伟", vehicle_type, ACCIDENT_DAY).failures == []


@pytest.mark.parametrize(
    ("record", "code", "reason"),
    [
        (None, "vehicle_not_found", "号牌浙A12345未查到机动车登记信息"),
        (vehicle(status="被盗抢"), "vehicle_stolen", "被盗抢"),
        (vehicle(status="报废"), "vehicle_scrapped", "报废"),
        (vehicle(status="查封"), "vehicle_seized", "查封"),
        (vehicle(inspection_valid_until=date(2026, 10, 31)), "vehicle_inspection_overdue", "逾期未检验"),
        (
            vehicle(vehicle_type=VehicleType.LIGHT_TRUCK),
            "vehicle_type_mismatch",
            "登记车辆类型为轻型普通货车",
        ),
    ],
)
def test_vehicle_failures(record: VehicleRecord | None, code: str, reason: str) -> None:
    finding = check_vehicle(record, "浙A12345", VehicleType.SMALL_CAR, ACCIDENT_DAY)
    assert [f.code for f in finding.failures] == [code]
    assert reason in finding.failures[0].reason


def test_a_vehicle_type_is_kept_as_its_code_and_said_by_its_label() -> None:
    record = vehicle(vehicle_type=VehicleType.LIGHT_TRUCK)
    (failure,) = check_vehicle(record, "浙A12345", VehicleType.SMALL_CAR, ACCIDENT_DAY).failures
    assert failure.params == {"registered": "H31", "recorded": "K33"}
    assert failure.reason == "登记车辆类型为轻型普通货车，与现场记录的小型轿车不符"
    assert failure.said.render(Locale.EN) == (
        "The registered vehicle type, Light truck, does not match the Small saloon car recorded at the scene"
    )


def test_a_vehicle_type_the_operators_list_lacks_is_said_by_the_registrys_code() -> None:
    record = vehicle(vehicle_type="K34")  # 小型专用客车: registered, but not on the operator's list
    (failure,) = check_vehicle(record, "浙A12345", VehicleType.SMALL_CAR, ACCIDENT_DAY).failures
    assert failure.reason == "登记车辆类型为K34，与现场记录的小型轿车不符"


@pytest.mark.parametrize(
    ("policies", "given", "code", "reason"),
    [
        ([], "PDZA202633010600001", "uninsured", "未查到该车交强险保单"),
        (
            [policy(starts_on=date(2025, 3, 1), ends_on=date(2026, 2, 28))],
            None,
            "insurance_not_valid_on_date",
            "2025-03-01至2026-02-28",
        ),
        ([policy(starts_on=date(2026, 11, 26))], None, "insurance_not_valid_on_date", "不在保险期间内"),
        ([policy()], "PDZA999", "policy_number_mismatch", "PDZA202633010600001"),
    ],
)
def test_insurance_failures(policies: list[PolicyRecord], given: str | None, code: str, reason: str) -> None:
    finding = check_insurance(policies, given, ACCIDENT_DAY)
    assert [f.code for f in finding.failures] == [code]
    assert reason in finding.failures[0].reason


def test_insurance_in_force_on_the_day_passes_and_names_the_insurer() -> None:
    finding = check_insurance([policy()], "PDZA202633010600001", ACCIDENT_DAY)
    assert finding.failures == []
    assert finding.found["insurer_name"] == "中国人民财产保险"


def test_the_synthetic_registry_is_deterministic_valid_and_has_every_problem() -> None:
    insurers = [("PICC", "中国人民财产保险"), ("CPIC", "中国太平洋财产保险")]
    people = generate(600, insurers, ACCIDENT_DAY)
    assert people == generate(600, insurers, ACCIDENT_DAY)
    for person in people:
        assert validate_id_number(person.licence.number) == person.licence.number
        assert validate_plate(person.vehicle.plate_number, person.vehicle.plate_type)
    provinces = {p.vehicle.plate_number[0] for p in people}
    assert {"京", "沪", "浙", "粤", "苏", "川"} <= provinces
    assert any(p.vehicle.plate_type in ("51", "52") for p in people)  # new-energy plates
    outcomes = set()
    for person in people:
        failures = (
            check_licence(person.licence, person.name, person.vehicle.vehicle_type, ACCIDENT_DAY).failures
            + check_vehicle(
                person.vehicle, person.vehicle.plate_number, person.vehicle.vehicle_type, ACCIDENT_DAY
            ).failures
            + check_insurance([person.policy] if person.policy else [], None, ACCIDENT_DAY).failures
        )
        outcomes |= {f.code for f in failures}
    assert {
        "licence_expired",
        "licence_suspended",
        "licence_revoked",
        "licence_class_mismatch",
        "vehicle_stolen",
        "vehicle_scrapped",
        "vehicle_inspection_overdue",
        "uninsured",
        "insurance_not_valid_on_date",
    } <= outcomes
    clean = sum(
        1
        for p in people
        if p.licence.status == "正常" and p.vehicle.status == "正常" and p.policy is not None
    )
    assert clean > len(people) * 0.6


async def case_in_call(api: Api, *names: str) -> tuple[int, dict[str, str]]:
    await api.context.database.write(lambda s: load(s, demo_drivers(ACCIDENT_DAY)))
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    await api.client.post(f"/api/cases/{case_id}/take", headers=operator)
    await api.client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator)
    response = await api.client.put(
        f"/api/cases/{case_id}/parties", json={"parties": [demo_party(n) for n in names]}, headers=operator
    )
    assert response.status_code == 200, response.text
    return case_id, operator


async def test_checks_run_on_the_entered_parties_and_are_kept_with_their_time(api: Api) -> None:
    case_id, operator = await case_in_call(api, "张伟", "王强", "陈静")
    response = await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    assert response.status_code == 200, response.text
    checks = {(c["party_name"], c["kind"]): c for c in response.json()}
    assert len(checks) == 9
    assert all(checks[("张伟", kind)]["outcome"] == "passed" for kind in ("licence", "vehicle", "insurance"))
    assert checks[("张伟", "insurance")]["found"]["insurer_name"] == "中国人民财产保险"
    suspended = checks[("王强", "licence")]
    assert suspended["outcome"] == "failed"
    # The reason is kept in Chinese for the record; the code and params say it in any language.
    assert suspended["failures"] == [
        {"code": "licence_suspended", "reason": "驾驶证状态为“暂扣”", "params": {}}
    ]
    assert checks[("陈静", "vehicle")]["failures"][0]["code"] == "vehicle_stolen"
    assert suspended["checked_at"] == "2026-11-25T02:00:00Z"

    # Kept on the case: the officer reads the same results later; a party cannot.
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    stored = (await api.client.get(f"/api/cases/{case_id}/checks", headers=officer)).json()
    assert stored == response.json()
    party = await api.client.get(f"/api/cases/{case_id}/checks", headers=api.party_token("13800000001"))
    assert party.status_code == 404


async def test_a_changed_party_entry_drops_the_old_results(api: Api) -> None:
    case_id, operator = await case_in_call(api, "张伟", "王强")
    await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    await api.client.put(
        f"/api/cases/{case_id}/parties",
        json={"parties": [demo_party("张伟"), demo_party("李娜")]},
        headers=operator,
    )
    checks = (await api.client.get(f"/api/cases/{case_id}/checks", headers=operator)).json()
    # 张伟 is entered as before, so his results stand; 王强's were about someone no longer there.
    assert {(c["party_position"], c["party_name"]) for c in checks} == {(1, "张伟")}


async def test_checks_need_parties_first(api: Api) -> None:
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    await api.client.post(f"/api/cases/{case_id}/take", headers=operator)
    response = await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    assert response.status_code == 422
    assert "当事人" in response.json()["detail"]


def test_a_demo_day_later_the_same_drivers_still_pass() -> None:
    later = ACCIDENT_DAY + timedelta(days=30)
    zhang = next(p for p in demo_drivers(later) if p.name == "张伟")
    assert check_licence(zhang.licence, "张伟", VehicleType.SMALL_CAR, later).failures == []
