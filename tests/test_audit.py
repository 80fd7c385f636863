"""The audit log: every action and every read, hash-chained, append-only, verifiable."""

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Api
from cryptography.hazmat.primitives.asymmetric import ec
from flows import determined_case
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditCheckpoint, AuditEntry
from kuaichu.audit.signing import AuditKeyError, AuditSigner
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.principal import SYSTEM


def _actions(session: Session) -> list[tuple[str, str, int | None]]:
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.actor_role, AuditEntry.case_id).order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def _tamper(database: Database, change: str | Callable[[Connection], None]) -> None:
    """What a database administrator could do by hand: switch the guard off, change history."""
    with database.writer.begin() as connection:
        for table in ("audit_entries", "audit_checkpoints"):
            if database.is_postgres:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
            else:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        if isinstance(change, str):
            connection.execute(text(change))
        else:
            change(connection)
        if database.is_postgres:
            for table in ("audit_entries", "audit_checkpoints"):
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))


def _rehash(connection: Connection) -> None:
    """Recompute every hash so the chain alone looks intact again."""
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


def _last_entry_id(api: Api) -> int:
    return api.context.database.write_sync(lambda s: s.scalar(select(func.max(AuditEntry.id))))


def _cli_verify(api: Api, **settings_env: str) -> subprocess.CompletedProcess[str]:
    """`kuaichu audit verify` as an auditor runs it: the database and the public key only."""
    settings = api.context.settings
    env = os.environ | {
        "KUAICHU_DATA_DIR": str(settings.data_dir),
        "KUAICHU_DATABASE_URL": settings.effective_database_url,
        # Verify has no use for the private key: point it where there is none.
        "KUAICHU_AUDIT_KEY_FILE": str(settings.data_dir / "no-such-key.pem"),
        "KUAICHU_AUDIT_PUBLIC_KEY_FILE": str(settings.effective_audit_public_key_file),
    }
    env |= {f"KUAICHU_{name.upper()}": value for name, value in settings_env.items()}
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
        *[("read_confirmations", "party"), ("party_signed", "party")] * 2,
        ("complete_collection", "operator"),
        ("evacuate", "operator"),
        ("read_case", "operator"),
        ("determine", "officer"),
        ("document_issued", "system"),  # signed by the document job after the determination
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


async def test_a_rewritten_chain_contradicts_the_signed_heads(api: Api) -> None:
    """Recomputing every hash after a change hides it from the chain, not from the signatures."""
    await determined_case(api)
    _tamper(api.context.database, "UPDATE audit_entries SET actor_label = '别人' WHERE id = 5")
    _tamper(api.context.database, _rehash)
    result = api.context.database.write_sync(lambda s: audit.verify(s, api.context.audit_signer.verifier))
    assert not result.ok
    assert result.first_broken_id is not None and result.first_broken_id <= 5
    assert "signed a different chain" in result.reason
    assert "BROKEN at entry" in _cli_verify(api).stderr


async def test_the_head_is_signed_in_every_commit_that_appends(api: Api) -> None:
    case = await determined_case(api)
    await api.client.get(f"/api/cases/{case.id}", headers=case.reporter)
    result = api.context.database.write_sync(lambda s: audit.verify(s, api.context.audit_signer.verifier))
    assert result.ok and result.unsigned == 0
    last_signed = api.context.database.write_sync(
        lambda s: s.scalar(select(AuditCheckpoint.entry_id).order_by(AuditCheckpoint.id.desc()).limit(1))
    )
    assert last_signed == _last_entry_id(api)


async def test_a_removed_tail_is_found_by_audit_verify(api: Api) -> None:
    """The entries after the last checkpoint of an attacker's choosing are deleted: the newest
    signed head still names the last entry, which is gone."""
    await determined_case(api)
    last = _last_entry_id(api)
    _tamper(api.context.database, f"DELETE FROM audit_entries WHERE id > {last - 3}")
    result = _cli_verify(api)
    assert result.returncode == 1
    assert f"entry {last - 2}:" in result.stderr
    assert "tail" in result.stderr


async def test_a_chain_without_any_checkpoint_does_not_verify(api: Api) -> None:
    await determined_case(api)
    _tamper(api.context.database, "DELETE FROM audit_checkpoints")
    result = _cli_verify(api)
    assert result.returncode == 1
    assert "entry 1:" in result.stderr
    assert "no signed checkpoint" in result.stderr


async def test_a_chain_re_signed_under_a_fresh_key_fails_against_the_audit_key(api: Api) -> None:
    """Someone with the database (and even the data directory) rewrites history, recomputes
    the hashes and signs every head again with a key of their own."""
    await determined_case(api)
    database = api.context.database
    _tamper(database, "UPDATE audit_entries SET actor_label = '别人' WHERE id = 5")
    _tamper(database, _rehash)
    fresh = AuditSigner(ec.generate_private_key(ec.SECP256R1()))

    def re_sign(connection: Connection) -> None:
        hashes = dict(connection.execute(text("SELECT id, hash FROM audit_entries")).all())
        for checkpoint_id, entry_id in connection.execute(text("SELECT id, entry_id FROM audit_checkpoints")):
            signature = fresh.sign(audit.checkpoint_message(entry_id, hashes[entry_id]))
            connection.execute(
                text("UPDATE audit_checkpoints SET entry_hash = :h, signature = :s WHERE id = :i"),
                {"h": hashes[entry_id], "s": signature, "i": checkpoint_id},
            )

    _tamper(database, re_sign)
    assert database.write_sync(lambda s: audit.verify(s, fresh.verifier)).ok  # consistent on its own
    result = _cli_verify(api)
    assert result.returncode == 1
    assert "entry 1:" in result.stderr
    assert "re-signed" in result.stderr

    # Even with the fresh public key put where the real one was, the pinned fingerprint holds.
    public_key_file = api.context.settings.effective_audit_public_key_file
    public_key_file.write_bytes(fresh.verifier.public_pem)
    result = _cli_verify(api, audit_public_key_sha256=api.context.audit_signer.fingerprint)
    assert result.returncode == 1
    assert "not the pinned key" in result.stderr


async def test_the_private_key_lives_outside_the_data_directory(api: Api) -> None:
    settings = api.context.settings
    key_file = settings.effective_audit_key_file
    assert key_file.exists() and not key_file.resolve().is_relative_to(settings.data_dir.resolve())
    assert not list(settings.data_dir.rglob("audit-key*"))
    result = _cli_verify(api, audit_public_key_sha256=api.context.audit_signer.fingerprint)
    assert result.returncode == 0, result.stderr
    assert api.context.audit_signer.fingerprint in result.stdout


def test_a_key_configured_inside_the_data_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError):
        AuditSigner.at_set_up(
            tmp_path / "data" / "audit-key.pem", tmp_path / "audit-key.pub.pem", tmp_path / "data"
        )


def test_every_n_entries_or_t_seconds_whichever_comes_first(database: Database, tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    signer = AuditSigner.from_file(tmp_path / "keys" / "audit-key.pem")
    audit.sign_on_commit(database.writer, audit.CheckpointPolicy(signer, clock, entries=3, seconds=60))

    def append(session: Session) -> None:
        audit.record(session, SYSTEM, "test", clock.now())

    def signed_heads() -> list[int]:
        return database.write_sync(
            lambda s: list(s.scalars(select(AuditCheckpoint.entry_id).order_by(AuditCheckpoint.id)))
        )

    database.write_sync(append)
    assert signed_heads() == [1]  # nothing was signed yet: the first commit signs
    database.write_sync(append)
    database.write_sync(append)
    assert signed_heads() == [1]
    database.write_sync(append)  # three unsigned
    assert signed_heads() == [1, 4]
    clock.advance(timedelta(seconds=61))
    database.write_sync(append)  # one unsigned, but the last signature is a minute old
    assert signed_heads() == [1, 4, 5]
    assert database.write_sync(lambda s: audit.verify(s, signer.verifier)).ok


def test_a_checkpoint_signs_what_its_own_transaction_recorded(database: Database, tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    signer = AuditSigner.from_file(tmp_path / "keys" / "audit-key.pem")

    def record_then_sign(session: Session) -> int | None:
        audit.record(session, SYSTEM, "test", clock.now())
        signed = audit.checkpoint(session, signer, clock.now())
        return signed.entry_id if signed else None

    assert database.write_sync(record_then_sign) == 1
    assert database.write_sync(lambda s: audit.verify(s, signer.verifier)).unsigned == 0


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
