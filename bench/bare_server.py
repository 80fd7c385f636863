"""The baselines: a bare Starlette app doing the case's SQL with plain sqlite3.

Run by bench/http_stack.py as `python bench/bare_server.py DB_PATH PORT`; it serves two
baselines of each hot path:

- minimal: POST /take/{case_id} (state change, timeline event and outbox row in one
  transaction) and GET /cases/{case_id} (the case, its parties and its jurisdiction);
- same SQL: POST /same-sql/take/{case_id} and GET /same-sql/cases/{case_id} issue every
  statement the full stack issues for the request, in the same transactions: the staff
  session's check, the reads a case view makes, and the audit entry appended to the hash
  chain with its signed checkpoint (a read's entry in a write transaction of its own). What
  separates them from the full stack is then the framework: routing, validation, the ORM,
  access rules, the worker-thread hops and the read audits' group commit.
"""

import hashlib
import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime

import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DB_PATH, PORT = sys.argv[1], int(sys.argv[2])
_local = threading.local()
# The audit key's kind (ECDSA P-256, kuaichu.audit.signing), generated for the run.
_AUDIT_KEY = ec.generate_private_key(ec.SECP256R1())


def connection() -> sqlite3.Connection:
    if not hasattr(_local, "db"):
        db = sqlite3.connect(DB_PATH, isolation_level=None, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        _local.db = db
    return _local.db


def record_take(db: sqlite3.Connection, case_id: int, now: str, on_conflict: str = "") -> None:
    """The take's timeline event and its push in the outbox."""
    db.execute(
        "INSERT INTO timeline_events (case_id, at, kind, state_after, actor_role, actor_id,"
        " actor_label, detail) VALUES (?, ?, 'take', 'in_call', 'operator', 1, 'bench', '{}')",
        (case_id, now),
    )
    db.execute(
        "INSERT INTO outbox (channel, idempotency_key, case_id, payload, status, attempts,"
        " next_attempt_at, created_at) VALUES ('push', ?, ?, ?, 'pending', 0, ?, ?)" + on_conflict,
        (f"bare:{case_id}", case_id, json.dumps({"event": "call_taken"}), now, now),
    )


def take(request: Request) -> JSONResponse:
    case_id = int(request.path_params["case_id"])
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = connection()
    db.execute("BEGIN IMMEDIATE")
    try:
        updated = db.execute(
            "UPDATE cases SET state='in_call', operator_id=1, updated_at=? WHERE id=? AND state='queued'",
            (now, case_id),
        ).rowcount
        if not updated:
            db.execute("ROLLBACK")
            return JSONResponse({"detail": "conflict"}, status_code=409)
        record_take(db, case_id, now)
        number, state, updated_at = db.execute(
            "SELECT number, state, updated_at FROM cases WHERE id=?", (case_id,)
        ).fetchone()
        db.execute("COMMIT")
    except Exception:
        db.execute("ROLLBACK")
        raise
    # The same answer the full stack gives to a transition.
    return JSONResponse(
        {
            "id": case_id,
            "number": number,
            "state": state,
            "state_label": "视频取证中",
            "allowed_actions": ["complete_collection", "transfer"],
            "updated_at": updated_at,
        }
    )


def read_case_json(case_id: int) -> JSONResponse:
    db = connection()
    case = db.execute("SELECT * FROM cases WHERE id=?", (case_id,)).fetchone()
    parties = db.execute("SELECT * FROM case_parties WHERE case_id=?", (case_id,)).fetchall()
    jurisdiction = db.execute(
        "SELECT code, name FROM jurisdictions WHERE id=?", (case["jurisdiction_id"],)
    ).fetchone()
    body = dict(case) | dict(jurisdiction) | {"parties": [dict(p) for p in parties]}
    return JSONResponse(body)


def read(request: Request) -> JSONResponse:
    return read_case_json(int(request.path_params["case_id"]))


def check_session(db: sqlite3.Connection) -> None:
    row = db.execute("SELECT active, session_version FROM users WHERE id=1").fetchone()
    assert row is not None and row["active"]


def append_audit(db: sqlite3.Connection, action: str, case_id: int, now: str) -> None:
    """Inside the caller's write transaction: the chain's head, the entry, its signed head."""
    head = db.execute("SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = head["hash"] if head else "0" * 64
    content = {"prev_hash": prev_hash, "at": now, "action": action, "case_id": case_id, "detail": {}}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    entry_id = db.execute(
        "INSERT INTO audit_entries (at, actor_role, actor_id, actor_label, address, action, case_id,"
        " detail, prev_hash, hash) VALUES (?, 'operator', 1, 'bench', '127.0.0.1', ?, ?, '{}', ?, ?)"
        " RETURNING id",
        (now, action, case_id, prev_hash, digest),
    ).fetchone()[0]
    message = f"kuaichu-audit-checkpoint:{entry_id}:{digest}".encode()
    signature = _AUDIT_KEY.sign(message, ec.ECDSA(hashes.SHA256())).hex()
    db.execute(
        "INSERT INTO audit_checkpoints (entry_id, entry_hash, at, signature) VALUES (?, ?, ?, ?)",
        (entry_id, digest, now, signature),
    )


def take_same_sql(request: Request) -> JSONResponse:
    case_id = int(request.path_params["case_id"])
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = connection()
    check_session(db)
    db.execute("BEGIN IMMEDIATE")
    try:
        case = db.execute("SELECT * FROM cases WHERE id=?", (case_id,)).fetchone()
        if case is None or case["state"] != "queued":
            db.execute("ROLLBACK")
            return JSONResponse({"detail": "conflict"}, status_code=409)
        db.execute("UPDATE cases SET state='in_call', operator_id=1, updated_at=? WHERE id=?", (now, case_id))
        record_take(db, case_id, now, " ON CONFLICT (idempotency_key) DO NOTHING")
        append_audit(db, "take", case_id, now)
        db.execute("COMMIT")
    except Exception:
        db.execute("ROLLBACK")
        raise
    return JSONResponse(
        {
            "id": case_id,
            "number": case["number"],
            "state": "in_call",
            "state_label": "视频取证中",
            "allowed_actions": ["complete_collection", "transfer"],
            "updated_at": now,
        }
    )


def read_same_sql(request: Request) -> JSONResponse:
    case_id = int(request.path_params["case_id"])
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db = connection()
    check_session(db)
    case = db.execute("SELECT * FROM cases WHERE id=?", (case_id,)).fetchone()
    determination = db.execute(
        "SELECT * FROM determinations WHERE case_id=? AND status='in_force' ORDER BY id DESC LIMIT 1",
        (case_id,),
    ).fetchone()
    consent = db.execute(
        "SELECT consented_at FROM privacy_consents WHERE phone=? AND version=?",
        (case["reporter_phone"], "2026-11-1"),
    ).fetchone()
    jurisdiction = db.execute("SELECT * FROM jurisdictions WHERE id=?", (case["jurisdiction_id"],)).fetchone()
    parties = db.execute("SELECT * FROM case_parties WHERE case_id=?", (case_id,)).fetchall()
    db.execute("BEGIN IMMEDIATE")
    try:
        append_audit(db, "read_case", case_id, now)
        db.execute("COMMIT")
    except Exception:
        db.execute("ROLLBACK")
        raise
    body = dict(case) | {
        "jurisdiction_code": jurisdiction["code"],
        "jurisdiction_name": jurisdiction["name"],
        "determination": dict(determination) if determination else None,
        "consented_at": consent["consented_at"] if consent else None,
        "parties": [dict(p) for p in parties],
    }
    return JSONResponse(body)


app = Starlette(
    routes=[
        Route("/take/{case_id}", take, methods=["POST"]),
        Route("/cases/{case_id}", read),
        Route("/same-sql/take/{case_id}", take_same_sql, methods=["POST"]),
        Route("/same-sql/cases/{case_id}", read_same_sql),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
