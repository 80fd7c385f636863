"""复核: within the period, once per accident, never decided by the determining officer."""

from datetime import timedelta

from conftest import Api
from flows import OTHER, determined_case, rear_end_decision
from sqlalchemy import select

from kuaichu.auth.principal import Principal, Role
from kuaichu.clock import FrozenClock
from kuaichu.liability.models import Determination

REASONS = {"reasons": "对方突然变道，我方并非追尾，有行车记录仪视频为证"}


async def test_a_party_may_apply_until_the_period_ends(api: Api, clock: FrozenClock) -> None:
    case = await determined_case(api)  # delivered Wednesday 25 Nov 2026, 10:00 Shanghai
    clock.advance(timedelta(days=5, hours=13, minutes=59))  # Monday 23:59, the last day
    other = api.party_token(OTHER)  # logged in again: days have passed
    response = await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=other)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "under_review"
    assert any("申请复核" in text for text in await api.sms_to("13800000001"))


async def test_an_application_after_the_period_is_refused(api: Api, clock: FrozenClock) -> None:
    case = await determined_case(api)
    clock.advance(timedelta(days=5, hours=14))  # Tuesday 00:00 Shanghai
    other = api.party_token(OTHER)
    response = await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=other)
    assert response.status_code == 409
    assert "2026-11-30" in response.json()["detail"]
    assert (await api.client.get(f"/api/cases/{case.id}", headers=other)).json()["state"] == "determined"


async def test_only_one_review_per_accident(api: Api) -> None:
    case = await determined_case(api)
    reviewer = await api.staff("reviewer", Role.REVIEWER)
    await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.other)
    decision = {"outcome": "upheld", "note": "证据清楚，认定正确"}
    await api.client.post(f"/api/cases/{case.id}/review/decision", json=decision, headers=reviewer)
    again = await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.reporter)
    assert again.status_code == 409


async def test_a_revoked_case_is_redetermined_by_another_officer(api: Api) -> None:
    case = await determined_case(api)
    reviewer = await api.staff("reviewer", Role.REVIEWER)
    await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.other)
    decision = {"outcome": "revoked", "note": "行车记录仪显示甲车变道"}
    response = await api.client.post(f"/api/cases/{case.id}/review/decision", json=decision, headers=reviewer)
    assert response.json()["state"] == "evacuated"
    revoked = (await api.client.get(f"/api/cases/{case.id}", headers=case.other)).json()
    assert revoked["determination"] is None

    same_officer = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert same_officer.status_code == 403
    other_officer = await api.staff("officer2-xihu", Role.OFFICER, "330106")
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=other_officer
    )
    assert response.status_code == 200, response.text
    redetermined = (await api.client.get(f"/api/cases/{case.id}", headers=case.other)).json()
    assert redetermined["determination"]["replaces_id"] is not None


async def test_the_determining_officer_cannot_review_own_determination(api: Api) -> None:
    """Separation of duties, even for an account that also holds the reviewer role."""
    case = await determined_case(api)
    await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.other)
    officer_id = await api.context.database.read(lambda s: s.scalar(select(Determination.officer_id)))
    same_person = Principal(role=Role.REVIEWER, id=officer_id, label="原办案民警")
    token = api.context.tokens.issue(same_person, api.context.clock.now())
    response = await api.client.post(
        f"/api/cases/{case.id}/review/decision",
        json={"outcome": "upheld", "note": "维持"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert (await api.client.get(f"/api/cases/{case.id}", headers=case.other)).json()[
        "state"
    ] == "under_review"
