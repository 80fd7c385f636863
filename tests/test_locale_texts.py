"""The texts of validators and rules speak the reader's language: a page that reads English
gets English refusals, and the Chinese stays word for word as it was."""

from datetime import date, datetime

from conftest import STAFF_PASSWORD, XIHU, Api
from factories import party_body
from flows import evacuated_case

from kuaichu.clock import SHANGHAI
from kuaichu.messages import Locale
from kuaichu.principal import Role
from kuaichu.registries.adapters import LicenceRecord
from kuaichu.registries.checks import check_licence

ENGLISH = {"Accept-Language": "en"}


async def test_a_malformed_plate_is_refused_in_english_naming_the_party(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    body = {"parties": [party_body("13800000001", "浙A12345"), party_body("13900000002", "浙AI2345", "李娜")]}
    english = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator | ENGLISH)
    chinese = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator)
    assert english.status_code == chinese.status_code == 422
    (error,) = english.json()["errors"]
    assert error["field"] == "parties.1"
    assert error["message"] == "Party 2 plate number is not a valid Chinese plate, e.g. 浙A12345"
    assert chinese.json()["errors"][0]["message"] == "当事人2 号牌号码格式不正确"


async def test_a_wrong_id_number_in_the_licence_field_says_why_in_english(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    party = party_body("13800000001", "浙A12345") | {"licence_number": "1101051949123100"}
    response = await api.client.put(
        f"/api/cases/{case_id}/parties", json={"parties": [party]}, headers=operator | ENGLISH
    )
    (error,) = response.json()["errors"]
    assert error["message"] == (
        "Party 1 Driving licence number must be an 18-character Chinese ID number"
        " (a Chinese driving licence number is the holder's ID number)"
    )


async def test_a_locked_account_is_told_in_english_when_to_try_again(api: Api) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    for _ in range(5):
        wrong = await api.client.post(
            "/api/auth/staff", json={"username": "op-xihu", "password": "guess-1234"}, headers=ENGLISH
        )
        assert wrong.json()["detail"] == "Wrong username or password"
    login = {"username": "op-xihu", "password": STAFF_PASSWORD}
    locked = await api.client.post("/api/auth/staff", json=login, headers=ENGLISH)
    assert locked.status_code == 429
    assert locked.json()["detail"] == (
        "Too many wrong passwords: the account is locked for now. Please try again in 15 min"
    )
    chinese = await api.client.post("/api/auth/staff", json=login)
    assert chinese.json()["detail"] == "密码错误次数过多，账号已临时锁定，请15分钟后再试"


async def test_grades_that_cannot_stand_together_are_explained_to_the_officer_in_english(api: Api) -> None:
    case = await evacuated_case(api)
    both_full = {
        "shares": [{"party_id": party_id, "responsibility": "full"} for party_id in case.party_ids],
        "reasoning": "两车均未保持安全距离",
    }
    url = f"/api/cases/{case.id}/determination"
    english = await api.client.post(url, json=both_full, headers=case.officer | ENGLISH)
    chinese = await api.client.post(url, json=both_full, headers=case.officer)
    assert english.status_code == chinese.status_code == 422
    assert english.json()["detail"] == (
        "When one party is fully responsible, every other party must have no responsibility"
    )
    assert chinese.json()["detail"] == "一方负全部责任时，其他各方应为无责任"


def test_a_registry_failure_is_kept_in_chinese_and_said_again_in_english_from_its_code() -> None:
    record = LicenceRecord("110105194912310021", "张伟", "C1", "正常", date(2026, 1, 1))
    (failure,) = check_licence(record, "张伟", "K33", date(2026, 11, 25)).failures
    assert (failure.code, failure.reason) == ("licence_expired", "驾驶证已于2026-01-01过期")
    assert failure.said.render(Locale.EN) == "The driving licence expired on 2026-01-01"


async def test_the_party_reads_why_video_reporting_is_closed_in_english(api: Api) -> None:
    party = await api.agreed_party("13800000009")
    api.context.clock.set(datetime(2026, 11, 25, 19, 30, tzinfo=SHANGHAI))  # type: ignore[attr-defined]
    english = await api.client.get("/api/calls/service-status", params=XIHU, headers=party | ENGLISH)
    chinese = await api.client.get("/api/calls/service-status", params=XIHU, headers=party)
    assert english.json()["message"] == (
        "Video accident handling is closed at this hour (open 07:00–19:00):"
        " please call 122 to report the accident"
    )
    assert chinese.json()["message"] == "当前不在视频快处服务时间（07:00–19:00），请拨打122报警"
    refused = await api.client.post("/api/calls", json=XIHU, headers=party | ENGLISH)
    assert (refused.status_code, refused.json()["code"]) == (409, "service_closed")
    assert refused.json()["detail"] == refused.json()["service"]["message"] == english.json()["message"]


async def test_the_estimated_wait_is_said_in_the_readers_language(api: Api) -> None:
    waiting = {phone: await api.agreed_party(phone) for phone in ("13800000007", "13800000008")}
    case_ids = [
        (await api.client.post("/api/calls", json=XIHU, headers=h)).json()["case_id"]
        for h in waiting.values()
    ]
    operator = await api.staff("op-wait", Role.OPERATOR, "330106")
    assert (await api.client.post("/api/calls/take-next", headers=operator)).status_code == 200
    url, party = f"/api/calls/{case_ids[1]}/queue", waiting["13800000008"]
    assert (await api.client.get(url, headers=party | ENGLISH)).json()["estimated_wait_text"] == "about 5 min"
    assert (await api.client.get(url, headers=party)).json()["estimated_wait_text"] == "约 5 分钟"
    empty = await api.client.post("/api/calls/take-next", headers=operator | ENGLISH)
    assert (empty.status_code, empty.json()["detail"]) == (409, "End the current call first")


async def test_what_the_eligibility_judgement_still_needs_is_said_in_english(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    url = f"/api/cases/{case_id}/eligibility"
    english = (await api.client.get(url, headers=operator | ENGLISH)).json()
    chinese = (await api.client.get(url, headers=operator)).json()
    assert english["eligible"] is chinese["eligible"] is None
    assert english["missing"] == [
        "The circumstances at the scene have not been confirmed yet"
        " (injuries, whether the vehicles can move, disputes, ...)",
        "The parties have not been entered yet",
    ]
    assert chinese["missing"] == ["尚未确认现场情况（伤亡、车辆能否移动、有无争议等）", "尚未录入当事人信息"]


async def test_the_collection_gate_refuses_in_the_readers_language(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    url = f"/api/cases/{case_id}/collection-complete"
    english = (await api.client.post(url, headers=operator | ENGLISH)).json()
    chinese = (await api.client.post(url, headers=operator)).json()
    assert english["title"] == "Collection incomplete" and chinese["title"] == "采集信息不完整"
    assert [item["code"] for item in english["missing"]] == [item["code"] for item in chinese["missing"]]
    assert english["detail"] == (
        "Collection cannot be completed yet: The time, place and type of the accident have not been"
        " recorded yet; Not enough parties entered: 0, at least 2 needed; It has not been judged yet"
        " whether video handling applies (injuries, whether the vehicles can move, disputes, ...);"
        " Missing photo: Point of collision"
    )
    assert chinese["detail"] == (
        "尚不能完成采集：尚未记录事故时间、地点和事故类型；至少需要录入2方当事人信息（已录入0方）；"
        "尚未判定能否快处（有无伤亡、车辆能否移动、有无争议等）；缺少碰撞部位照片"
    )
