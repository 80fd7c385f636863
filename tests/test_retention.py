"""Retention: after a case closes, each kind of its data is kept for its period and then
purged by the scheduled job; the document and the hashes stay, the purge is audited, and a
party can download what the case holds about them (个人信息保护法)."""

from datetime import timedelta
from pathlib import Path

from conftest import STAFF_PASSWORD, XIHU, Api
from factories import upload_jpeg
from flows import WalkedCase, determined_case
from sqlalchemy import select

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditEntry
from kuaichu.clock import FrozenClock
from kuaichu.retention.service import RetentionPeriods, purge_expired
from kuaichu.reviews.service import close_final_cases

PURGED = "已按规定期限删除"


async def _closed_case(api: Api, clock: FrozenClock) -> WalkedCase:
    """A determined case nobody asked to review closes (办结) once the review period is over."""
    case = await determined_case(api)
    clock.advance(timedelta(days=6))
    assert await api.context.database.write(lambda s: close_final_cases(s, clock.now())) == 1
    return case


async def _run_retention_job(api: Api) -> list[tuple[int, str]]:
    """One run of the scheduled job, with the periods the deployment configured."""
    settings, context = api.context.settings, api.context
    periods = RetentionPeriods(
        settings.retention_recording_days,
        settings.retention_still_days,
        settings.retention_personal_data_days,
    )
    purges = await context.database.write(
        lambda s: purge_expired(s, context.evidence_store, periods, context.clock.now())
    )
    return [(p.case_id, p.kind) for p in purges]


async def _log_in(api: Api, username: str) -> dict[str, str]:
    """Staff log in afresh after the clock has moved months on (sessions are short)."""
    response = await api.client.post(
        "/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _blob_exists(api: Api, sha256: str) -> bool:
    return any(Path(api.context.settings.evidence_dir).rglob(sha256))


async def test_after_the_period_the_files_are_gone_the_hashes_the_document_and_the_audit_stay(
    api: Api, clock: FrozenClock
) -> None:
    case = await _closed_case(api, clock)
    client, settings = api.client, api.context.settings
    case.officer = await _log_in(api, "officer-xihu")
    listing = await client.get(f"/api/cases/{case.id}/evidence", headers=case.officer)
    assert listing.status_code == 200, listing.text
    evidence = listing.json()
    digests = {item["sha256"] for item in evidence}
    assert evidence and all(_blob_exists(api, d) for d in digests)
    document = (await client.get(f"/api/cases/{case.id}/documents", headers=case.officer)).json()[0]

    clock.advance(timedelta(days=settings.retention_still_days - 1))
    assert await _run_retention_job(api) == [(case.id, "recording")]  # stills are kept a while yet
    assert all(_blob_exists(api, d) for d in digests)

    clock.advance(timedelta(days=settings.retention_personal_data_days))
    assert sorted(await _run_retention_job(api)) == [(case.id, "personal_data"), (case.id, "still")]
    assert await _run_retention_job(api) == []  # once only
    case.officer = await _log_in(api, "officer-xihu")

    assert not any(_blob_exists(api, d) for d in digests)
    listed = (await client.get(f"/api/cases/{case.id}/evidence", headers=case.officer)).json()
    assert {item["sha256"] for item in listed} == digests
    assert all(item["purged"] and item["status_label"] == PURGED for item in listed)
    content = await client.get(
        f"/api/cases/{case.id}/evidence/{listed[0]['id']}/content", headers=case.officer
    )
    assert content.status_code == 410
    assert content.json()["detail"] == PURGED

    view = (await client.get(f"/api/cases/{case.id}", headers=case.officer)).json()
    for party in view["parties"]:
        assert "*" in party["name"] and "*" in party["id_number"]

    pdf = await client.get(f"/api/documents/{document['number']}/pdf", headers=case.officer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    database = api.context.database
    purges = await database.read(
        lambda s: list(
            s.scalars(
                select(AuditEntry.detail).where(
                    AuditEntry.action == "retention_purge", AuditEntry.case_id == case.id
                )
            )
        )
    )
    assert sorted(p["kind"] for p in purges) == ["personal_data", "recording", "still"]
    result = await database.read(lambda s: audit.verify(s, api.context.audit_signer.verifier))
    assert result.ok and result.unsigned == 0


async def test_a_file_another_case_still_keeps_is_not_deleted(api: Api, clock: FrozenClock) -> None:
    """The store is content-addressed: the same photo in a case still open keeps its file."""
    case = await _closed_case(api, clock)
    client = api.client
    case.operator = await _log_in(api, "op-xihu")
    stranger = await api.agreed_party("13700000003")
    open_case = (await client.post("/api/calls", json=XIHU, headers=stranger)).json()["case_id"]
    assert (await client.post(f"/api/cases/{open_case}/take", headers=case.operator)).status_code == 200
    kept = await upload_jpeg(client, case.operator, open_case)
    assert kept.status_code == 201, kept.text

    clock.advance(timedelta(days=api.context.settings.retention_personal_data_days + 1))
    await _run_retention_job(api)
    case.officer, case.operator = await _log_in(api, "officer-xihu"), await _log_in(api, "op-xihu")
    closed_items = (await client.get(f"/api/cases/{case.id}/evidence", headers=case.officer)).json()
    assert all(item["purged"] for item in closed_items)
    assert kept.json()["sha256"] in {item["sha256"] for item in closed_items}
    assert _blob_exists(api, kept.json()["sha256"])
    content = await client.get(
        f"/api/cases/{open_case}/evidence/{kept.json()['id']}/content", headers=case.operator
    )
    assert content.status_code == 200


async def test_a_party_downloads_their_own_case_data(api: Api) -> None:
    case = await determined_case(api)
    client = api.client
    response = await client.get(f"/api/cases/{case.id}/my-data", headers=case.other)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["party"]["phone"] == "13900000002"
    assert data["party"]["name"] == "李娜" and "*" not in data["party"]["id_number"]
    assert data["case"]["state"] == "determined"
    assert data["timeline"][0]["kind"] == "report"
    documents = (await client.get(f"/api/cases/{case.id}/documents", headers=case.other)).json()
    assert [d["number"] for d in data["documents"]] == [d["number"] for d in documents]
    assert len(data["evidence"]) == 6 and all(len(e["sha256"]) == 64 for e in data["evidence"])
    assert "张伟" not in response.text  # the other party's entry is not theirs to download

    staff = await client.get(f"/api/cases/{case.id}/my-data", headers=case.officer)
    assert staff.status_code == 404  # a party-only route
    reads = await api.context.database.read(
        lambda s: list(
            s.scalars(
                select(AuditEntry.actor_role).where(
                    AuditEntry.action == "read_my_data", AuditEntry.case_id == case.id
                )
            )
        )
    )
    assert reads == ["party"]
