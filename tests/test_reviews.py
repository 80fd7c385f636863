"""复核: within the period, once per accident, never decided by the determining officer."""

import subprocess
from datetime import timedelta
from pathlib import Path

from conftest import Api
from flows import OTHER, determined_case, rear_end_decision
from sqlalchemy import select

from kuaichu.auth.models import User
from kuaichu.clock import FrozenClock
from kuaichu.liability.models import Determination
from kuaichu.principal import Principal, Role
from kuaichu.reviews.service import close_final_cases

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
    version = await api.context.database.read(lambda s: s.get(User, officer_id).session_version)  # type: ignore[union-attr]
    same_person = Principal(role=Role.REVIEWER, id=officer_id, label="原办案民警", session_version=version)
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


async def test_the_new_determination_gets_a_new_document_naming_the_one_it_replaces(
    api: Api, tmp_path: Path
) -> None:
    case = await determined_case(api)
    [first] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.other)).json()
    reviewer = await api.staff("reviewer", Role.REVIEWER)
    await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.other)
    decision = {"outcome": "revoked", "note": "行车记录仪显示甲车变道"}
    await api.client.post(f"/api/cases/{case.id}/review/decision", json=decision, headers=reviewer)
    revoked = (await api.client.get(f"/verify/{first['number']}")).json()
    assert revoked["status"] == "revoked" and revoked["replaced_by"] is None

    other_officer = await api.staff("officer2-xihu", Role.OFFICER, "330106")
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=other_officer
    )
    assert response.status_code == 200, response.text
    await api.documents_made()
    documents = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.other)).json()
    assert [d["status"] for d in documents] == ["revoked", "in_force"]
    second = documents[1]
    assert second["replaces_number"] == first["number"]
    assert (await api.client.get(f"/verify/{first['number']}")).json()["replaced_by"] == second["number"]

    pdf = (await api.client.get(second["download_url"], headers=case.other)).content
    path = tmp_path / "second.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert f"替代第{first['number']}号认定书" in text
    assert "officer2-xihu姓名" in text
    # The old document still verifies as ours, unchanged, but the page says it was revoked.
    old_pdf = (await api.client.get(first["download_url"], headers=case.other)).content
    check = (await api.client.post(f"/verify/{first['number']}", files={"file": ("a.pdf", old_pdf)})).json()
    assert check["authentic"] is True and "撤销" in check["message"]


async def test_a_determination_nobody_can_contest_any_more_closes_its_case(
    api: Api, clock: FrozenClock
) -> None:
    open_period = await determined_case(api)  # delivered Wednesday 25 Nov 2026, 10:00 Shanghai
    sweep = api.context.database.write
    assert await sweep(lambda s: close_final_cases(s, clock.now())) == 0
    clock.advance(timedelta(days=5, hours=14))  # Tuesday 00:00: the period is over
    assert await sweep(lambda s: close_final_cases(s, clock.now())) == 1
    other = api.party_token(OTHER)
    assert (await api.client.get(f"/api/cases/{open_period.id}", headers=other)).json()["state"] == "closed"
    timeline = (await api.client.get(f"/api/cases/{open_period.id}/timeline", headers=other)).json()
    assert (timeline[-1]["kind"], timeline[-1]["actor"]) == ("close", "系统")


async def test_a_case_under_review_is_not_closed(api: Api, clock: FrozenClock) -> None:
    case = await determined_case(api)
    await api.client.post(f"/api/cases/{case.id}/review", json=REASONS, headers=case.other)
    clock.advance(timedelta(days=10))
    assert await api.context.database.write(lambda s: close_final_cases(s, clock.now())) == 0
