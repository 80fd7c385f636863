"""The tamper-evident audit log (全过程可回溯式监管).

Every action and every read of personal data appends an entry whose hash covers its content
and the previous entry's hash, so changing or removing any line breaks the chain from there
on. Checkpoints sign the chain's head with the authority's audit key (kept outside the data
directory): in the very transaction that appends, at every commit or at most every N entries
or T seconds (`sign_on_commit`), and from a background task for an idle head. A signed head
names its entry's id and hash, so a rewrite of the whole chain, a removed tail, a chain with
no signature at all and one re-signed under another key are all detected. Appends are
serialized: on PostgreSQL with a transaction-scoped advisory lock, on SQLite by its single
writer.

An entry recorded in a transaction is appended when that transaction commits (in its
before-commit step, so the entry and the action commit together or not at all): the lock
on the chain's head is held for the append alone, not for the rest of the transaction.
Reading the log in the appending transaction sees the entries it recorded.
"""

import hashlib
import json
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.orm import ORMExecuteState, Session

from kuaichu.audit.models import AuditCheckpoint, AuditEntry
from kuaichu.audit.signing import AuditSigner
from kuaichu.clock import Clock
from kuaichu.principal import Principal
from kuaichu.privacy import mask_personal

GENESIS_HASH = "0" * 64
_APPEND_LOCK = 7_270_001  # any constant shared by every server process
_PENDING = "kuaichu.audit.pending"  # Session.info: entries recorded, appended at commit


class SignatureCheck(Protocol):
    def verify(self, message: bytes, signature: str) -> bool: ...


@dataclass(frozen=True)
class CheckpointPolicy:
    """When the committing transaction signs the head: `entries` unsigned, or `seconds` since
    the last signature, whichever comes first (entries=1: every commit that appends)."""

    signer: AuditSigner
    clock: Clock
    entries: int = 1
    seconds: float = 300.0


_policies: "weakref.WeakKeyDictionary[Engine, CheckpointPolicy]" = weakref.WeakKeyDictionary()


def sign_on_commit(engine: Engine, policy: CheckpointPolicy) -> None:
    """Have every transaction on `engine` that appends entries sign the head when due."""
    _policies[engine] = policy


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})


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
    action: StrEnum,
    now: datetime,
    case_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one entry in the caller's transaction: it is appended when the transaction
    commits, so it exists exactly when the action does.
    `action` is an AuditAction, or the case's Action or EventKind for a timeline event.

    An entry is never rewritten, so it never holds what retention must later delete
    (个人信息保护法 art. 19, 47): personal fields in `detail` are masked and free text (a
    reason, a note: it may name anyone) is kept as its SHA-256 only, which still proves what
    the domain's own row said while that row keeps it."""
    # Round-trip the detail through JSON so the hash covers exactly what the database keeps.
    masked = mask_personal(detail or {}, text_digest)
    fields = {
        "at": now,
        "actor_role": actor.role.value,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "address": actor.address,
        "action": str(action),
        "case_id": case_id,
        "detail": json.loads(json.dumps(masked, ensure_ascii=False, default=str)),
    }
    deferred = session.info.get(DEFERRED)
    if deferred is not None:
        deferred.append(fields)  # a read's entry: kuaichu.audit.reads appends it
    else:
        append_recorded(session, [fields])


def append_recorded(session: Session, entries: list[dict[str, Any]]) -> None:
    """Entries made by `record` (or deferred by a read), appended when `session` commits."""
    session.info.setdefault(_PENDING, []).extend(entries)


# Session.info: the entries of a read, which kuaichu.audit.reads appends in a transaction of
# its own (a read changes nothing to commit them with).
DEFERRED = "kuaichu.audit.deferred"


# The statements of every append, built once: built per commit, their construction and cache
# keys cost more than running them. Core, not the ORM's bulk insert: that one groups rows by
# which fields are None, and the ids must follow the chain's order. On the tables' columns: the
# models' attributes would add the ORM's compile step to every run.
_ENTRIES, _CHECKPOINTS = AuditEntry.__table__.c, AuditCheckpoint.__table__.c
_HEAD = select(_ENTRIES.id, _ENTRIES.hash).order_by(_ENTRIES.id.desc()).limit(1)
_APPEND = insert(AuditEntry.__table__).returning(_ENTRIES.id, sort_by_parameter_order=True)
_LAST_CHECKPOINT = select(_CHECKPOINTS.entry_id, _CHECKPOINTS.at).order_by(_CHECKPOINTS.id.desc()).limit(1)
_SIGN = insert(AuditCheckpoint.__table__)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Still inside the committing transaction: append its entries to the chain, under the
    append lock, and sign the new head when the policy says so."""
    entries = session.info.pop(_PENDING, None)
    if not entries:
        return
    _lock(session)
    head = session.execute(_HEAD).first()
    prev_hash = head.hash if head else GENESIS_HASH
    rows = []
    for fields in entries:
        digest = entry_hash(prev_hash, **fields)
        rows.append(fields | {"prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    ids = session.scalars(_APPEND, rows).all()
    bind = session.get_bind()
    policy = _policies.get(bind) if isinstance(bind, Engine) else None
    if policy is not None:
        _sign_if_due(session, policy, ids[-1], prev_hash)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _before_reading_the_log(state: ORMExecuteState) -> None:
    """A transaction that reads the log sees the entries it recorded (a replay shows itself)."""
    if not (state.is_select and state.session.info.get(_PENDING)):
        return
    if any(mapper.class_ is AuditEntry for mapper in state.all_mappers):
        _append_pending(state.session)


def text_digest(text: str) -> str:
    """How the audit log keeps a free text: its SHA-256, never the words."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _sign_if_due(session: Session, policy: CheckpointPolicy, head_id: int, head_hash: str) -> None:
    """Still inside the appending transaction (and its append lock): sign the head if due."""
    now = policy.clock.now()
    if policy.entries > 1:
        last = session.execute(_LAST_CHECKPOINT).first()
        if (
            last is not None
            and head_id - last.entry_id < policy.entries
            and (now - last.at).total_seconds() < policy.seconds
        ):
            return
    signature = policy.signer.sign(checkpoint_message(head_id, head_hash))
    session.execute(_SIGN, {"entry_id": head_id, "entry_hash": head_hash, "at": now, "signature": signature})


def checkpoint(session: Session, signer: AuditSigner, now: datetime) -> AuditCheckpoint | None:
    """Sign the chain's head, unless nothing was appended since the last checkpoint."""
    _append_pending(session)  # what this transaction recorded is part of the head it signs
    _lock(session)
    head = session.execute(_HEAD).first()
    last = session.scalar(select(func.max(AuditCheckpoint.entry_id)))
    if head is None or head.id == last:
        return None
    signed = AuditCheckpoint(
        entry_id=head.id,
        entry_hash=head.hash,
        at=now,
        signature=signer.sign(checkpoint_message(head.id, head.hash)),
    )
    session.add(signed)
    session.flush()
    return signed


def checkpoint_message(entry_id: int, digest: str) -> bytes:
    return f"kuaichu-audit-checkpoint:{entry_id}:{digest}".encode()


@dataclass(frozen=True)
class Verification:
    entries: int
    checkpoints: int
    first_broken_id: int | None = None
    reason: str = ""
    # Entries after the last signed head (at most the policy's N-1, or T seconds' worth).
    unsigned: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None and not self.reason


def _entries(session: Session) -> Iterator[AuditEntry]:
    return iter(session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)))


def verify(session: Session, key: SignatureCheck) -> Verification:
    """Walk the whole chain and every signed head; name the first entry that does not hold.

    `key` needs only the public half of the audit key (`AuditVerifier`)."""
    hashes: dict[int, str] = {}
    prev_hash = GENESIS_HASH
    count = 0
    first_id: int | None = None
    last_id = 0
    for entry in _entries(session):
        count += 1
        first_id = entry.id if first_id is None else first_id
        if entry.prev_hash != prev_hash:
            return Verification(
                count, 0, entry.id, "previous hash does not match: an entry was removed or changed"
            )
        if _hash_of(entry, prev_hash) != entry.hash:
            return Verification(count, 0, entry.id, "content does not match its hash: the entry was changed")
        hashes[entry.id] = entry.hash
        prev_hash = entry.hash
        last_id = entry.id
    checkpoints = list(
        session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.entry_id, AuditCheckpoint.id))
    )
    signed_count = len(checkpoints)
    if count and not checkpoints:
        return Verification(
            count, 0, first_id, "no signed checkpoint: nothing vouches for the chain (were they removed?)"
        )
    vouched = 0  # the last entry a valid signature vouches for so far
    for signed in checkpoints:
        first_unvouched = vouched + 1
        if not key.verify(checkpoint_message(signed.entry_id, signed.entry_hash), signed.signature):
            return Verification(
                count,
                signed_count,
                first_unvouched,
                f"checkpoint {signed.id} (entry {signed.entry_id}) is not signed by the audit key: "
                "the chain was re-signed under another key",
            )
        if signed.entry_id > last_id:
            return Verification(
                count,
                signed_count,
                last_id + 1,
                f"checkpoint {signed.id} signed entry {signed.entry_id}, which is missing: "
                f"the tail of the log from entry {last_id + 1} was removed",
            )
        if hashes.get(signed.entry_id) != signed.entry_hash:
            return Verification(
                count,
                signed_count,
                first_unvouched,
                f"checkpoint {signed.id} signed a different chain: entries {first_unvouched} to "
                f"{signed.entry_id} were rewritten or removed",
            )
        vouched = max(vouched, signed.entry_id)
    unsigned = sum(1 for entry_id in hashes if entry_id > vouched)
    return Verification(count, signed_count, unsigned=unsigned)
