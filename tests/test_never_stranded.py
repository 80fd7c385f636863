"""A driver is never stranded: told before being recorded, one case however often they tap,
a way forward without GPS, and told plainly when nobody can take the call (with 122)."""

import asyncio
from datetime import datetime, timedelta

import pytest
from conftest import SHANGCHENG, XIHU, Api
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.cases.models import Case
from kuaichu.clock import SHANGHAI
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.principal import Role
from kuaichu.settings import Settings

DRIVER = "13600000001"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"reports_per_phone_per_hour": 3})


async def cases_of(api: Api, phone: str) -> int:
    def count(session: Session) -> int:
        return session.scalar(select(func.count()).where(Case.reporter_phone == phone)) or 0

    return await api.context.database.read(count)


async def test_the_party_agrees_to_the_recording_notice_before_the_first_call(api: Api) -> None:
    party = api.party_token(DRIVER)
    response = await api.client.post("/api/calls", json=XIHU, headers=party)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "consent_required"
    assert await cases_of(api, DRIVER) == 0
    assert (await api.client.get("/api/auth/me", headers=party)).json()["consented"] is False

    notice = (await api.client.get("/api/privacy-notice")).json()
    assert notice["version"] == PRIVACY_NOTICE_VERSION and "录音录像" in notice["text"]
    stale = await api.client.post("/api/consents", json={"version": "1999-01"}, headers=party)
    assert stale.status_code == 409
    agreed = await api.client.post("/api/consents", json={"version": notice["version"]}, headers=party)
    assert agreed.status_code == 201
    assert (await api.client.get("/api/auth/me", headers=party)).json()["consented"] is True

    response = await api.client.post("/api/calls", json=XIHU, headers=party)
    assert response.status_code == 201, response.text
    # The console shows that the party agreed.
    operator = await api.staff("op-consent", Role.OPERATOR, "330106")
    case = (await api.client.get(f"/api/cases/{response.json()['case_id']}", headers=operator)).json()
    assert case["consented_at"] == agreed.json()["consented_at"]
    assert (await api.client.post("/api/auth/logout", headers=party)).status_code == 204


async def test_a_double_tap_and_a_second_tab_make_one_case(api: Api) -> None:
    party = await api.agreed_party(DRIVER)
    responses = await asyncio.gather(
        *(api.client.post("/api/calls", json=XIHU, headers=party) for _ in range(12))
    )
    assert sorted(r.status_code for r in responses) == [200] * 11 + [201]
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert await cases_of(api, DRIVER) == 1

    # A reload resumes the active case; once it is over there is none.
    case_id = responses[0].json()["case_id"]
    active = await api.client.get("/api/calls/active", headers=party)
    assert active.status_code == 200 and active.json()["case_id"] == case_id
    assert active.json()["position"] == 1
    assert (await api.client.post(f"/api/calls/{case_id}/abandon", headers=party)).status_code == 204
    gone = await api.client.get("/api/calls/active", headers=party)
    assert gone.status_code == 404 and gone.json()["detail"] == "没有进行中的报警"


async def test_reports_from_one_phone_are_limited(api: Api) -> None:
    party = await api.agreed_party(DRIVER)
    for _ in range(3):
        response = await api.client.post("/api/calls", json=XIHU, headers=party)
        assert response.status_code == 201
        await api.client.post(f"/api/calls/{response.json()['case_id']}/abandon", headers=party)
    refused = await api.client.post("/api/calls", json=XIHU, headers=party)
    assert refused.status_code == 429 and "122" in refused.json()["detail"]
    assert await cases_of(api, DRIVER) == 3
    api.context.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert (await api.client.post("/api/calls", json=XIHU, headers=party)).status_code == 201


async def test_location_denied_the_party_picks_the_district_and_types_the_place(api: Api) -> None:
    districts = (await api.client.get("/api/jurisdictions")).json()
    assert {
        "code": "330102",
        "name": next(d["name"] for d in districts if d["code"] == "330102"),
    } in districts
    party = await api.agreed_party(DRIVER)
    too_short = await api.client.post(
        "/api/calls", json={"jurisdiction_code": "330102", "address": " "}, headers=party
    )
    assert too_short.status_code == 422
    unknown = await api.client.post(
        "/api/calls", json={"jurisdiction_code": "999999", "address": "解放路口"}, headers=party
    )
    assert unknown.status_code == 422 and "122" in unknown.json()["detail"]

    body = {"jurisdiction_code": "330102", "address": "解放路与建国路口"}
    response = await api.client.post("/api/calls", json=body, headers=party)
    assert response.status_code == 201, response.text
    case = (await api.client.get(f"/api/cases/{response.json()['case_id']}", headers=party)).json()
    assert case["jurisdiction_code"] == "330102" and case["address"] == "解放路与建国路口"
    # Its queue is the picked district's, the same one a GPS fix there joins.
    other = await api.client.post(
        "/api/calls", json=SHANGCHENG, headers=await api.agreed_party("13600000002")
    )
    assert other.json()["position"] == 2


async def test_outside_service_hours_the_party_is_told_to_call_122(api: Api) -> None:
    party = await api.agreed_party(DRIVER)
    api.context.clock.set(datetime(2026, 11, 25, 19, 30, tzinfo=SHANGHAI))  # type: ignore[attr-defined]
    status = (await api.client.get("/api/calls/service-status", params=XIHU, headers=party)).json()
    assert status["open"] is False and status["reason"] == "outside_hours"
    assert status["message"] == "当前不在视频快处服务时间（07:00–19:00），请拨打122报警"
    refused = await api.client.post("/api/calls", json=XIHU, headers=party)
    assert refused.status_code == 409 and refused.json()["code"] == "service_closed"
    assert refused.json()["detail"] == status["message"]
    assert await cases_of(api, DRIVER) == 0


async def test_nobody_on_duty_then_paused_while_waiting(api: Api) -> None:
    party = await api.agreed_party(DRIVER)
    before = (
        await api.client.get(
            "/api/calls/service-status", params={"jurisdiction_code": "330106"}, headers=party
        )
    ).json()
    assert before["reason"] == "nobody_on_duty" and "122" in before["message"]
    # Nobody on duty is told, not refused: someone may come on duty.
    queued = (await api.client.post("/api/calls", json=XIHU, headers=party)).json()
    assert queued["service"]["reason"] == "nobody_on_duty" and queued["estimated_wait_text"] is None

    supervisor = await api.staff("sup", Role.SUPERVISOR)
    pause = {"paused": True, "reason": "暴雨红色预警"}
    response = await api.client.put(
        "/api/supervision/jurisdictions/330106/service", json=pause, headers=supervisor
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"]["reason"] == "paused"
    waiting = (await api.client.get(f"/api/calls/{queued['case_id']}/queue", headers=party)).json()
    assert waiting["service"]["message"] == "视频快处暂停服务（暴雨红色预警），请拨打122报警"
    newcomer = await api.agreed_party("13600000003")
    assert (await api.client.post("/api/calls", json=XIHU, headers=newcomer)).status_code == 409
    no_reason = await api.client.put(
        "/api/supervision/jurisdictions/330106/service", json={"paused": True}, headers=supervisor
    )
    assert no_reason.status_code == 422

    resume = {"paused": False}
    assert (
        await api.client.put("/api/supervision/jurisdictions/330106/service", json=resume, headers=supervisor)
    ).status_code == 200
    assert (await api.client.post("/api/calls", json=XIHU, headers=newcomer)).status_code == 201
    listing = (await api.client.get("/api/supervision/jurisdictions/service", headers=supervisor)).json()
    assert {j["code"]: j["paused"] for j in listing}["330106"] is False
    replayed = await api.client.get("/api/calls/service-status", params=XIHU, headers=api.party_token(DRIVER))
    assert replayed.json()["reason"] == "nobody_on_duty"
