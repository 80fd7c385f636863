"""Retention: after a case ends, each kind of its data is kept for its period and then purged
by the scheduled job; the document and the hashes stay, the purge is audited, the chain still
verifies, and the parties can still open their case and download what it holds about them
(个人信息保护法 art. 19, 45, 47)."""

import hashlib
import io
import json
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from casework import LI, PLATE_COVERED, REASONING, ZHANG, CollectedCase, determined
from conftest import STAFF_PASSWORD, XIHU, Api
from factories import FACTS, JPEG_BYTES, demo_party, party_body, upload_jpeg
from flows import OTHER, REPORTER, WalkedCase, determined_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditEntry
from kuaichu.auth.models import Insurer, SmsCode
from kuaichu.auth.service import create_api_key
from kuaichu.calls.models import CallReport
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.claims.models import Claim, ClaimProgress
from kuaichu.clock import FrozenClock
from kuaichu.collection.models import CollectionOverride
from kuaichu.consent.models import PrivacyConsent
from kuaichu.documents.models import DeterminationDocument
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.s3 import S3EvidenceStore
from kuaichu.evidence.storage import EvidenceStore, LocalEvidenceStore
from kuaichu.liability.models import Determination
from kuaichu.limit_locks import LimitLock
from kuaichu.notify.models import OutboxMessage, SmsMessage
from kuaichu.principal import Role
from kuaichu.registries.models import RegistryCheck
from kuaichu.retention.service import RetentionPolicy, run_retention
from kuaichu.reviews.models import ReviewRequest
from kuaichu.reviews.service import close_final_cases
from kuaichu.settlement.models import Agreement
from kuaichu.signals.models import LoginTrace

PURGED = "已按规定期限删除"
REVIEW_REASONS = "张伟突然刹车，我方并非全责，行车记录仪为证"
REVIEW_NOTE = "证据清楚，认定正确"
PROGRESS_NOTE = "查勘员王磊已电话联系张伟"


async def _closed_case(api: Api, clock: FrozenClock) -> WalkedCase:
    """A determined case nobody asked to review closes (办结) once the review period is over."""
    case = await determined_case(api)
    clock.advance(timedelta(days=6))
    assert await api.context.database.write(lambda s: close_final_cases(s, clock.now())) == 1
    return case


async def _run_retention_job(api: Api, store: EvidenceStore | None = None) -> list[tuple[int, str]]:
    """One run of the scheduled job, with the periods the deployment configured."""
    context = api.context
    policy = RetentionPolicy.from_settings(context.settings)
    store = store or context.evidence_store
    purges = await run_retention(context.database, store, policy, context.clock.now())
    return [(p.case_id, p.kind) for p in purges]


def _unreachable_object_store(api: Api) -> S3EvidenceStore:
    """An S3 store whose server is down: nothing listens on the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = api.context.settings.model_copy(
        update={
            "evidence_s3_endpoint": f"http://127.0.0.1:{port}",
            "evidence_s3_attempts": 1,
            "evidence_s3_timeout_seconds": 1.0,
        }
    )
    return S3EvidenceStore.from_settings(settings)


async def _log_in(api: Api, username: str) -> dict[str, str]:
    """Staff log in afresh after the clock has moved months on (sessions are short)."""
    response = await api.client.post(
        "/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _insurer_key(api: Api, code: str, name: str) -> dict[str, str]:
    def create(session: Session) -> str:
        insurer = Insurer(code=code, name=name)
        session.add(insurer)
        session.flush()
        return create_api_key(session, insurer, api.context.clock.now())

    return {"X-API-Key": await api.context.database.write(create)}


def _blob_exists(api: Api, sha256: str) -> bool:
    return any(Path(api.context.settings.evidence_dir).rglob(sha256))


async def _audit_ok(api: Api) -> None:
    context = api.context
    result = await context.database.read(lambda s: audit.verify(s, context.audit_signer.verifier))
    assert result.ok and result.unsigned == 0, result


def _text_of(rows: Iterable[Any]) -> str:
    """Every column of these rows as one text, to look for what must be gone."""
    return json.dumps(
        [{c.key: getattr(row, c.key) for c in row.__table__.columns} for row in rows],
        ensure_ascii=False,
        default=str,
    )


# Every table that holds personal data, and which of its rows belong to the case.
CASE_TABLES: dict[str, Any] = {
    "cases": lambda case_id: select(Case).where(Case.id == case_id),
    "case_parties": lambda case_id: select(CaseParty).where(CaseParty.case_id == case_id),
    "registry_checks": lambda case_id: select(RegistryCheck).where(RegistryCheck.case_id == case_id),
    "timeline_events": lambda case_id: select(TimelineEvent).where(TimelineEvent.case_id == case_id),
    "outbox": lambda case_id: select(OutboxMessage),
    "sms_messages": lambda case_id: select(SmsMessage),
    "claim_progress": lambda case_id: (
        select(ClaimProgress).join(Claim, Claim.id == ClaimProgress.claim_id).where(Claim.case_id == case_id)
    ),
    "review_requests": lambda case_id: select(ReviewRequest).where(ReviewRequest.case_id == case_id),
    "collection_overrides": lambda case_id: select(CollectionOverride).where(
        CollectionOverride.case_id == case_id
    ),
    "agreements": lambda case_id: select(Agreement).where(Agreement.case_id == case_id),
    "call_reports": lambda case_id: select(CallReport).where(CallReport.case_id == case_id),
    "privacy_consents": lambda case_id: select(PrivacyConsent),
    "sms_codes": lambda case_id: select(SmsCode),
    "limit_locks": lambda case_id: select(LimitLock),
    # Hashed and never rewritten: it must never have received any of it.
    "audit_entries": lambda case_id: select(AuditEntry),
}


async def _tables(api: Api, case_id: int) -> dict[str, str]:
    def read(session: Session) -> dict[str, str]:
        return {name: _text_of(session.scalars(query(case_id))) for name, query in CASE_TABLES.items()}

    return await api.context.database.read(read)


def _personal(*names: str) -> list[str]:
    """What identifies the demo drivers: name, phone, ID and licence numbers, plate, policy."""
    keys = ("name", "phone", "id_number", "plate_number", "policy_number")
    return [str(demo_party(name)[key]) for name in names for key in keys if demo_party(name)[key]]


async def _everything_happens(api: Api, clock: FrozenClock) -> CollectedCase:
    """A case that reaches every table holding personal data: an SMS login, the consent, the
    registry checks, an override with a reason, official SMS, a review application and its
    decision, a claim pushed to the insurer and its progress note; then it closes."""
    await api.party(ZHANG)  # a login code and its SMS
    case = await determined(api)  # 张伟 reports; 乙's plate still overridden with a reason
    client = api.client
    reviewer = await api.staff("reviewer", Role.REVIEWER)
    applied = await client.post(
        f"/api/cases/{case.id}/review", json={"reasons": REVIEW_REASONS}, headers=case.li
    )
    assert applied.status_code == 200, applied.text
    decision = {"outcome": "upheld", "note": REVIEW_NOTE}
    upheld = await client.post(f"/api/cases/{case.id}/review/decision", json=decision, headers=reviewer)
    assert upheld.status_code == 200, upheld.text
    cpic = await _insurer_key(api, "CPIC", "中国太平洋财产保险")
    claim = await client.post(f"/api/cases/{case.id}/claim", headers=case.zhang)  # closes the case
    assert claim.status_code == 201, claim.text
    progress = {"status": "contacted", "note": PROGRESS_NOTE}
    reported = await client.post(
        f"/api/insurer/claims/{claim.json()['id']}/progress", json=progress, headers=cpic
    )
    assert reported.status_code == 200, reported.text
    await api.deliver_outbox()
    assert (await client.get(f"/api/cases/{case.id}", headers=case.zhang)).json()["state"] == "closed"
    return case


async def test_personal_data_leaves_every_table_and_the_parties_still_open_their_case(
    api: Api, clock: FrozenClock
) -> None:
    case = await _everything_happens(api, clock)
    client, settings = api.client, api.context.settings
    secrets = [*_personal("张伟", "李娜"), PLATE_COVERED, REVIEW_REASONS, PROGRESS_NOTE]
    before = await _tables(api, case.id)
    for table in ("case_parties", "outbox", "sms_messages", "review_requests", "collection_overrides"):
        assert any(s in before[table] for s in secrets), table  # it was there
    assert ZHANG in before["privacy_consents"] and ZHANG in before["sms_codes"]
    assert ZHANG in before["call_reports"] and ZHANG in before["limit_locks"]
    documents = (await client.get(f"/api/cases/{case.id}/documents", headers=case.zhang)).json()

    clock.advance(timedelta(days=settings.retention_personal_data_days + 1))
    assert {kind for _, kind in await _run_retention_job(api)} == {"recording", "still", "personal_data"}

    after = await _tables(api, case.id)
    for table, text in after.items():
        assert not [s for s in secrets if s in text], table
    assert after["call_reports"] == after["privacy_consents"] == after["sms_codes"] == "[]"
    assert REVIEW_NOTE in after["review_requests"]  # the review's conclusion is the record (art. 75)
    assert PURGED in after["review_requests"] and PURGED in after["claim_progress"]
    assert PURGED in after["collection_overrides"]

    reasoning, hashes = await api.context.database.read(
        lambda s: (
            s.scalars(select(Determination.reasoning).where(Determination.case_id == case.id)).one(),
            [d.sha256 for d in s.scalars(select(DeterminationDocument))],
        )
    )
    assert reasoning == REASONING and len(hashes) == 1
    await _audit_ok(api)

    # The parties log in again, by SMS as a phone does, and still reach the legal record.
    zhang = await api.party(ZHANG)
    assert [c["id"] for c in (await client.get("/api/cases", headers=zhang)).json()] == [case.id]
    view = await client.get(f"/api/cases/{case.id}", headers=zhang)
    assert view.status_code == 200 and view.json()["parties"][0]["name"] == "张*"
    pdf = await client.get(documents[0]["download_url"], headers=zhang)
    assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == hashes[0]
    li = api.party_token(LI)
    assert (await client.get(f"/api/cases/{case.id}/timeline", headers=li)).status_code == 200
    stranger = api.party_token("13700000003")
    assert (await client.get(f"/api/cases/{case.id}", headers=stranger)).status_code == 404

    mine = await client.get(f"/api/cases/{case.id}/my-data", headers=zhang)
    assert mine.status_code == 200, mine.text
    data = mine.json()
    assert data["party"]["position"] == 1 and data["party"]["phone"] == "138****0001"
    assert [k["status_label"] for k in data["retention"]["kinds"]] == [PURGED] * 3
    assert data["evidence"] and all(e["status_label"] == PURGED for e in data["evidence"])
    assert [d["number"] for d in data["documents"]] == [d["number"] for d in documents]
    await _audit_ok(api)


async def test_the_audit_log_never_receives_free_text_or_names(api: Api) -> None:
    """Hashed entries cannot be purged, so reasons and names are masked when written: the
    entry keeps the reason's SHA-256, which still proves what the override row said."""
    case = await determined(api)
    entries = await api.context.database.read(
        lambda s: list(s.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id)))
    )
    text = _text_of(entries)
    assert not [s for s in [*_personal("张伟", "李娜"), PLATE_COVERED] if s in text]
    [override] = [e for e in entries if e.action == "collection_override"]
    assert override.detail["reason"] == audit.text_digest(PLATE_COVERED)
    assert all(item["message"].startswith("sha256:") for item in override.detail["items"])


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
        assert "*" in party["name"] and "*" in party["id_number"] and "*" in party["plate_number"]
    checks = (await client.get(f"/api/cases/{case.id}/checks", headers=case.officer)).json()
    assert len(checks) == 6  # the checks of the (masked) entries are still the current ones

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
    [personal] = [p for p in purges if p["kind"] == "personal_data"]
    assert personal["tables"]["case_parties"] == 2 and personal["tables"]["outbox"] >= 1
    await _audit_ok(api)


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
    # The open case's people are untouched, and so is the consent of its reporter.
    stranger = api.party_token("13700000003")
    mine = (await client.get(f"/api/cases/{open_case}", headers=stranger)).json()
    assert mine["reporter_phone"] == "13700000003" and mine["consented_at"] is not None


async def test_a_settlement_disputed_on_site_is_purged_too(api: Api, clock: FrozenClock) -> None:
    """A case handed to police on site has ended here: its agreement loses the phones and the
    address it came from, and both parties still open it."""
    a, b = api.party_token("13800000001"), api.party_token("13900000002")
    proposal = {
        "location": XIHU,
        "facts": FACTS,
        "parties": {
            "parties": [
                party_body("13800000001", "浙A12345"),
                party_body("13900000002", "浙A54321", "李娜", "456"),
            ]
        },
        "shares": [{"position": 1, "responsibility": "none"}, {"position": 2, "responsibility": "full"}],
    }
    case = (await api.client.post("/api/settlements", json=proposal, headers=a)).json()
    rejected = await api.client.post(f"/api/cases/{case['id']}/settlement/reject", headers=b)
    assert rejected.json()["state"] == "transferred"
    await api.deliver_outbox()

    clock.advance(timedelta(days=api.context.settings.retention_personal_data_days + 1))
    assert (case["id"], "personal_data") in await _run_retention_job(api)
    tables = await _tables(api, case["id"])
    for phone in ("13800000001", "13900000002"):
        assert not [name for name, text in tables.items() if phone in text]
    agreement = json.loads(tables["agreements"])[0]
    assert agreement["proposed_by_phone"] == "138****0001" and agreement["proposed_from"] is None
    for party in (api.party_token("13800000001"), api.party_token("13900000002")):
        view = await api.client.get(f"/api/cases/{case['id']}", headers=party)
        assert view.status_code == 200 and view.json()["state"] == "transferred"
    await _audit_ok(api)


async def test_each_kind_says_how_long_it_is_kept(api: Api, clock: FrozenClock) -> None:
    """个人信息保护法 art. 17: the periods before, the dates once the case ended, then 已删除."""
    case = await determined_case(api)
    settings = api.context.settings
    response = await api.client.get(f"/api/cases/{case.id}/retention", headers=case.reporter)
    assert response.status_code == 200, response.text
    assert [k["status_label"] for k in response.json()["kinds"]] == [
        f"案件办结后保存{settings.retention_recording_days}天",
        f"案件办结后保存{settings.retention_still_days}天",
        f"案件办结后保存{settings.retention_personal_data_days}天",
    ]
    clock.advance(timedelta(days=6))
    await api.context.database.write(lambda s: close_final_cases(s, clock.now()))  # 2026-12-01
    case.reporter = api.party_token(REPORTER)  # logged in again: days have passed
    ended = (await api.client.get(f"/api/cases/{case.id}/retention", headers=case.reporter)).json()
    assert ended["kinds"][0]["status_label"] == "保存至2027年3月1日"

    clock.advance(timedelta(days=settings.retention_recording_days))
    await _run_retention_job(api)
    case.reporter = api.party_token(REPORTER)
    purged = (await api.client.get(f"/api/cases/{case.id}/retention", headers=case.reporter)).json()
    assert [k["status_label"] for k in purged["kinds"]][:2] == [PURGED, "保存至2027年12月1日"]


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
    # The six stills and both parties' signatures, each with its hash.
    assert len(data["evidence"]) == 8 and all(len(e["sha256"]) == 64 for e in data["evidence"])
    assert data["retention"]["kinds"][2]["purged_at"] is None
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


async def test_files_a_failing_store_kept_are_deleted_by_the_next_run(api: Api, clock: FrozenClock) -> None:
    """The purge commits its rows; a store that is down when the files should go leaves them for
    the next run, which deletes them: no file outlives its period because of an outage."""
    case = await _closed_case(api, clock)
    case.officer = await _log_in(api, "officer-xihu")
    evidence = (await api.client.get(f"/api/cases/{case.id}/evidence", headers=case.officer)).json()
    digests = {item["sha256"] for item in evidence}

    clock.advance(timedelta(days=api.context.settings.retention_personal_data_days + 1))
    purged = await _run_retention_job(api, _unreachable_object_store(api))
    assert {kind for _, kind in purged} == {"recording", "still", "personal_data"}
    assert all(_blob_exists(api, d) for d in digests)

    def undeleted(session: Session) -> int:
        waiting = select(EvidenceItem).where(EvidenceItem.blob_deleted_at.is_(None))
        return len(session.scalars(waiting.where(EvidenceItem.case_id == case.id)).all())

    assert await api.context.database.read(undeleted) == len(evidence)

    assert await _run_retention_job(api) == []  # nothing left to purge, the files still to go
    assert not any(_blob_exists(api, d) for d in digests)
    assert await api.context.database.read(undeleted) == 0


async def test_old_login_traces_go_with_the_retention_job_though_nobody_logs_in(
    api: Api, clock: FrozenClock
) -> None:
    """A login's hashed traces are kept signal_login_trace_days, then the scheduled job deletes
    them even when no one logs in since (个人信息保护法 art. 47)."""
    days = api.context.settings.signal_login_trace_days
    await api.party(REPORTER)
    clock.advance(timedelta(days=days - 1))
    await api.party(OTHER)
    recent = clock.now()
    clock.advance(timedelta(days=2))  # the reporter's login is now older than the period

    await _run_retention_job(api)
    kept = await api.context.database.read(lambda s: list(s.scalars(select(LoginTrace.at))))
    assert kept == [recent]


def _left_behind(store: LocalEvidenceStore, content: bytes, written_at: datetime) -> str:
    """A blob whose request died before its row committed, last written at `written_at`."""
    sha256 = store.put(io.BytesIO(content), len(content)).sha256
    _written(store, sha256, written_at)
    return sha256


def _written(store: LocalEvidenceStore, sha256: str, at: datetime) -> None:
    os.utime(dict(store.blobs())[sha256], (at.timestamp(), at.timestamp()))


async def test_a_file_no_row_names_is_deleted_once_past_its_grace_and_a_named_or_fresh_one_stays(
    api: Api, clock: FrozenClock
) -> None:
    """个人信息保护法 art. 47: a photo whose upload died before its row is kept for nothing; an
    upload whose row is still to commit is younger than the grace and is never touched."""
    store = api.context.evidence_store
    assert isinstance(store, LocalEvidenceStore)
    grace = timedelta(hours=api.context.settings.evidence_orphan_grace_hours)
    reporter = await api.agreed_party(REPORTER)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    assert (await api.client.post(f"/api/cases/{case_id}/take", headers=operator)).status_code == 200
    named = (await upload_jpeg(api.client, operator, case_id)).json()
    _written(store, named["sha256"], clock.now() - timedelta(days=30))
    orphan = _left_behind(store, JPEG_BYTES + b"died", clock.now() - grace - timedelta(minutes=1))
    fresh = _left_behind(store, JPEG_BYTES + b"in flight", clock.now() - grace + timedelta(minutes=1))

    await _run_retention_job(api)
    assert set(dict(store.blobs())) == {named["sha256"], fresh}
    content = await api.client.get(f"/api/cases/{case_id}/evidence/{named['id']}/content", headers=operator)
    assert content.status_code == 200 and content.content == JPEG_BYTES

    clock.advance(timedelta(minutes=2))  # the fresh one's row never came
    await _run_retention_job(api)
    assert set(dict(store.blobs())) == {named["sha256"]}
    assert orphan not in dict(store.blobs())


def test_a_file_stored_again_since_it_was_listed_is_not_deleted(tmp_path: Path) -> None:
    """The same content uploaded again during the sweep, its row about to commit, keeps its file."""
    store = LocalEvidenceStore(tmp_path / "evidence")
    sha256 = store.put(io.BytesIO(JPEG_BYTES), len(JPEG_BYTES)).sha256
    [stored] = store.listing()  # written by the disk's clock, now
    cutoff = stored.modified_at - timedelta(hours=1)
    _written(store, sha256, cutoff - timedelta(hours=1))
    assert [blob.modified_at < cutoff for blob in store.listing()] == [True]

    store.put(io.BytesIO(JPEG_BYTES), len(JPEG_BYTES))  # written again now, after the cutoff
    assert store.set_aside(sha256, cutoff) is None
    assert b"".join(store.read_chunks(sha256)) == JPEG_BYTES

    _written(store, sha256, cutoff - timedelta(hours=1))
    aside = store.set_aside(sha256, cutoff)
    assert aside is not None and list(store.listing()) == []
    store.discard(aside)
    assert list(store.listing()) == [] and list((store.root / "incoming").iterdir()) == []


async def test_what_a_killed_upload_left_part_way_is_deleted_once_past_the_grace(
    api: Api, clock: FrozenClock
) -> None:
    """kill -9 in the middle of an upload leaves its bytes in incoming, named by no one."""
    incoming = api.context.settings.evidence_dir / "incoming"
    grace = timedelta(hours=api.context.settings.evidence_orphan_grace_hours)
    killed, under_way = incoming / "tmpkilled", incoming / "tmpunderway"
    for path, at in ((killed, clock.now() - grace - timedelta(minutes=1)), (under_way, clock.now())):
        path.write_bytes(JPEG_BYTES[:100])
        os.utime(path, (at.timestamp(), at.timestamp()))

    await _run_retention_job(api)
    assert sorted(incoming.iterdir()) == [under_way]
