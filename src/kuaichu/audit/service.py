"""The tamper-evident audit log (全过程可回溯式监管).

Every action and every read of personal data appends an entry whose hash covers its content
and the previous entry's hash, so changing or removing any line breaks the chain from there
on. Periodic checkpoints sign the chain's head with the authority's audit key, so even a
rewrite of the whole chain after a checkpoint is detected. Appends are serialized: on
PostgreSQL with a transaction-scoped advisory lock, on SQLite by its single writer.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from kuaichu.audit.models import AuditCheckpoint, AuditEntry
from kuaichu.audit.signing import AuditSigner
from kuaichu.auth.principal import Principal

GENESIS_HASH = "0" * 64
_APPEND_LOCK = 7_270_001  # any constant shared by every server process


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(
    prev_hash: str,
    at: datetime,
    actor_role: str,
    actor_id: int | None,
    actor_label: str,
    address: str | None,
    action: str,
    case_id: int | None,
    detail: dict[str, Any],
) -> str:
    content = {
        "prev_hash": prev_hash,
        "at": at.isoformat(),
        "actor_role": actor_role,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "address": address,
        "action": action,
        "case_id": case_id,
        "detail": detail,
    }
    return hashlib.sha256(_canonical(content)).hexdigest()


def _hash_of(entry: AuditEntry, prev_hash: str) -> str:
    return entry_hash(
        prev_hash,
        entry.at,
        entry.actor_role,
        entry.actor_id,
        entry.actor_label,
        entry.address,
        entry.action,
        entry.case_id,
        entry.detail,
    )


def record(
    session: Session,
    actor: Principal,
    action: str,
    now: datetime,
    case_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction: it exists exactly when the action does."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    prev_hash = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    prev_hash = prev_hash or GENESIS_HASH
    # Round-trip the detail through JSON so the hash covers exactly what the database keeps.
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    fields = {
        "at": now,
        "actor_role": actor.role.value,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "address": actor.address,
        "action": action,
        "case_id": case_id,
        "detail": detail,
    }
    digest = entry_hash(prev_hash, **fields)
    session.execute(insert(AuditEntry).values(**fields, prev_hash=prev_hash, hash=digest))


def checkpoint(session: Session, signer: AuditSigner, now: datetime) -> AuditCheckpoint | None:
    """Sign the chain's head, unless nothing was appended since the last checkpoint."""
    head = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    last = session.scalar(select(func.max(AuditCheckpoint.entry_id)))
    if head is None or head.id == last:
        return None
    signed = AuditCheckpoint(
        entry_id=head.id,
        entry_hash=head.hash,
        at=now,
        signature=signer.sign(_checkpoint_message(head.id, head.hash)),
    )
    session.add(signed)
    session.flush()
    return signed


def _checkpoint_message(entry_id: int, digest: str) -> bytes:
    return f"kuaichu-audit-checkpoint:{entry_id}:{digest}".encode()


@dataclass(frozen=True)
class Verification:
    entries: int
    checkpoints: int
    first_broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None and not self.reason


def _entries(session: Session) -> Iterator[AuditEntry]:
    return iter(session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)))


def verify(session: Session, signer: AuditSigner) -> Verification:
    """Walk the whole chain; name the first entry that does not hold."""
    hashes: dict[int, str] = {}
    prev_hash = GENESIS_HASH
    count = 0
    for entry in _entries(session):
        count += 1
        if entry.prev_hash != prev_hash:
            return Verification(
                count, 0, entry.id, "previous hash does not match: an entry was removed or changed"
            )
        if _hash_of(entry, prev_hash) != entry.hash:
            return Verification(count, 0, entry.id, "content does not match its hash: the entry was changed")
        hashes[entry.id] = entry.hash
        prev_hash = entry.hash
    checkpoints = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
    for signed in checkpoints:
        if not signer.verify(_checkpoint_message(signed.entry_id, signed.entry_hash), signed.signature):
            return Verification(
                count, len(checkpoints), None, f"checkpoint {signed.id} has an invalid signature"
            )
        if hashes.get(signed.entry_id) != signed.entry_hash:
            return Verification(
                count,
                len(checkpoints),
                signed.entry_id,
                f"checkpoint {signed.id} signed a different chain: entries were rewritten or removed",
            )
    return Verification(count, len(checkpoints))
