"""The audit log: every action and every read, hash-chained, append-only, verifiable."""

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import Api
from flows import determined_case
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditEntry
from kuaichu.db import Database


def _actions(session: Session) -> list[tuple[str, str, int | None]]:
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.actor_role, AuditEntry.case_id).order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def _tamper(database: Database, change: str | Callable[[Connection], None]) -> None:
    """What a database administrator could do by hand: switch the guard off, change history."""
    with database.writer.begin() as connection:
        if database.is_postgres:
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_delete"))
        if isinstance(change, str):
            connection.execute(text(change))
        else:
            change(connection)
        if database.is_postgres:
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))


def _cli_verify(api: Api) -> subprocess.CompletedProcess[str]:
    settings = api.context.settings
    env = os.environ | {
        "KUAICHU_DATA_DIR": str(settings.data_dir),
        "KUAICHU_DATABASE_URL": settings.effective_database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "kuaichu.cli", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


async def test_every_step_and_every_read_of_a_case_is_on_the_audit_log(api: Api) -> None:
    case = await determined_case(api)
    await api.client.get(f"/api/cases/{case.id}", headers=case.officer)
    actions = await api.context.database.read(_actions)
    case_actions = [(action, role) for action, role, case_id in actions if case_id == case.id]
    assert case_actions == [
        ("report", "party"),
        ("take", "operator"),
        ("facts_recorded", "operator"),
        ("parties_recorded", "operator"),
        ("registry_checked", "operator"),
        ("circumstances_recorded", "operator"),
        ("liability_facts_recorded", "operator"),
        *[("evidence_added", "operator")] * 6,
        ("read_collection", "operator"),
        ("complete_collection", "operator"),
        ("evacuate", "operator"),
        ("read_case", "operator"),
        ("determine", "officer"),
        ("document_issued", "officer"),
        ("read_case", "officer"),
    ]
    assert ("login", "operator", None) in actions
    last = await api.context.database.read(
        lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    )
    assert last.address == "127.0.0.1"
    result = await api.context.database.read(lambda s: audit.verify(s, api.context.audit_signer))
    assert result.ok and result.entries == len(actions)


async def test_the_application_cannot_change_or_remove_audit_entries(api: Api) -> None:
    await determined_case(api)
    database = api.context.database
    with pytest.raises(DBAPIError):
        database.write_sync(
            lambda s: s.execute(text("UPDATE audit_entries SET actor_label = 'x' WHERE id = 2"))
        )
    with pytest.raises(DBAPIError):
        database.write_sync(lambda s: s.execute(text("DELETE FROM audit_entries WHERE id = 2")))
    assert database.write_sync(lambda s: audit.verify(s, api.context.audit_signer)).ok


async def test_a_row_changed_by_hand_is_found_by_audit_verify(api: Api) -> None:
    await determined_case(api)
    assert _cli_verify(api).returncode == 0
    _tamper(api.context.database, "UPDATE audit_entries SET actor_label = '别人' WHERE id = 5")
    result = _cli_verify(api)
    assert result.returncode == 1
    assert "entry 5" in result.stderr


async def test_a_removed_row_is_found_by_audit_verify(api: Api) -> None:
    await determined_case(api)
    _tamper(api.context.database, "DELETE FROM audit_entries WHERE id = 3")
    result = _cli_verify(api)
    assert result.returncode == 1
    assert "entry 4" in result.stderr


async def test_a_rewritten_chain_contradicts_the_signed_checkpoint(api: Api) -> None:
    """Recomputing every hash after a change hides it from the chain, not from the signature."""
    await determined_case(api)
    database, signer = api.context.database, api.context.audit_signer
    signed = database.write_sync(lambda s: audit.checkpoint(s, signer, api.context.clock.now()))
    assert signed is not None
    _tamper(database, "UPDATE audit_entries SET actor_label = '别人' WHERE id = 5")

    def rehash(connection: Connection) -> None:
        prev = audit.GENESIS_HASH
        for entry in Session(bind=connection).scalars(select(AuditEntry).order_by(AuditEntry.id)):
            digest = audit.entry_hash(
                prev,
                entry.at,
                entry.actor_role,
                entry.actor_id,
                entry.actor_label,
                entry.address,
                entry.action,
                entry.case_id,
                entry.detail,
            )
            connection.execute(
                text("UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": entry.id},
            )
            prev = digest

    _tamper(database, rehash)
    result = database.write_sync(lambda s: audit.verify(s, signer))
    assert not result.ok
    assert result.first_broken_id == signed.entry_id
    assert "checkpoint" in result.reason


async def test_every_read_of_personal_data_leaves_an_entry(api: Api) -> None:
    """Checks, eligibility, the liability proposal, documents, claims and the review: each read
    by whoever may see it is on the log with the reader and the case."""
    case = await determined_case(api)
    client = api.client
    reads = [
        (f"/api/cases/{case.id}/checks", case.operator, "read_checks", "operator"),
        (f"/api/cases/{case.id}/eligibility", case.operator, "read_eligibility", "operator"),
        (f"/api/cases/{case.id}/liability-proposal", case.officer, "read_liability_proposal", "officer"),
        (f"/api/cases/{case.id}/documents", case.reporter, "read_documents", "party"),
        (f"/api/cases/{case.id}/claims", case.reporter, "read_claims", "party"),
    ]
    for url, headers, _, _ in reads:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
    applied = await client.post(
        f"/api/cases/{case.id}/review", json={"reasons": "对方并非追尾，我方在正常行驶"}, headers=case.other
    )
    assert applied.status_code == 200, applied.text
    response = await client.get(f"/api/cases/{case.id}/review", headers=case.other)
    assert response.status_code == 200, response.text

    actions = await api.context.database.read(_actions)
    read_entries = [(action, role) for action, role, case_id in actions if case_id == case.id]
    for _, _, action, role in reads:
        assert (action, role) in read_entries
    assert ("read_review", "party") in read_entries
