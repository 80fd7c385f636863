"""The baseline: a bare Starlette app doing the same SQL with plain sqlite3.

Run by bench/http_stack.py as `python bench/bare_server.py DB_PATH PORT`; it serves
POST /take/{case_id} (the same transition the full stack performs: state change, timeline
event and outbox row in one transaction) and GET /cases/{case_id} (the same case read).
"""

import json
import sqlite3
import sys
import threading
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DB_PATH, PORT = sys.argv[1], int(sys.argv[2])
_local = threading.local()


def connection() -> sqlite3.Connection:
    if not hasattr(_local, "db"):
        db = sqlite3.connect(DB_PATH, isolation_level=None, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        _local.db = db
    return _local.db


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
        db.execute(
            "INSERT INTO timeline_events (case_id, at, kind, state_after, actor_role, actor_id,"
            " actor_label, detail) VALUES (?, ?, 'take', 'in_call', 'operator', 1, 'bench', '{}')",
            (case_id, now),
        )
        db.execute(
            "INSERT INTO outbox (channel, idempotency_key, case_id, payload, status, attempts,"
            " next_attempt_at, created_at) VALUES ('push', ?, ?, ?, 'pending', 0, ?, ?)",
            (f"bare:{case_id}", case_id, json.dumps({"event": "call_taken"}), now, now),
        )
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


app = Starlette(routes=[Route("/take/{case_id}", take, methods=["POST"]), Route("/cases/{case_id}", read)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
