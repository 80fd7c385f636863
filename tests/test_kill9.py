"""kill -9 in the middle of a burst loses nothing that was acknowledged.

A real server process takes reports, transitions and reads from many clients at once and is
killed with SIGKILL once a share of them were answered; started again on the same data, every
answered report is a case, every answered take is in the call with its timeline line, its
outbox message and its audit entry, every answered read of a case is on the audit log, and
`kuaichu audit verify` passes."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import STAFF_PASSWORD, XIHU
from live import SECRET, LiveServer, prepare_database, start_server
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.audit.models import AuditEntry
from kuaichu.auth.service import TokenService, party_principal
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.clock import SystemClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.notify.models import OutboxMessage

QUEUED = 30  # cases waiting before the burst: taken and read during it, one report each


@dataclass
class Acknowledged:
    """What the server answered 2xx before it died."""

    taken: list[int] = field(default_factory=list)
    reads: Counter[int] = field(default_factory=Counter)
    reported: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.taken) + sum(self.reads.values()) + len(self.reported)


def _party(phone: str) -> dict[str, str]:
    token = TokenService(SECRET, 24, 15).issue(
        party_principal(phone), SystemClock().now() - timedelta(seconds=1)
    )
    return {"Authorization": f"Bearer {token}"}


async def _report(client: httpx.AsyncClient, phone: str) -> int:
    headers = _party(phone)
    agreed = await client.post("/api/consents", json={"version": PRIVACY_NOTICE_VERSION}, headers=headers)
    agreed.raise_for_status()
    reported = await client.post("/api/calls", json=XIHU, headers=headers)
    reported.raise_for_status()
    return int(reported.json()["case_id"])


async def _burst(server: LiveServer, queued: dict[int, str]) -> Acknowledged:
    """Takes, reads and new reports all at once; SIGKILL once a third of them were answered
    (and some of each kind)."""
    done = Acknowledged()
    enough = asyncio.Event()
    total = len(queued) * 5
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        login = await client.post("/api/auth/staff", json={"username": "op-live", "password": STAFF_PASSWORD})
        operator = {"Authorization": f"Bearer {login.json()['access_token']}"}

        def answered() -> None:
            if done.count >= total // 3 and done.taken and done.reads and done.reported:
                enough.set()

        async def take(case_id: int) -> None:
            response = await client.post(f"/api/cases/{case_id}/take", headers=operator)
            if response.status_code == 200:
                done.taken.append(case_id)
                answered()

        async def read(case_id: int, phone: str) -> None:
            response = await client.get(f"/api/cases/{case_id}", headers=_party(phone))
            if response.status_code == 200:
                done.reads[case_id] += 1
                answered()

        async def report(phone: str) -> None:
            done.reported.append(await _report(client, phone))
            answered()

        async def attempt(request: Coroutine[Any, Any, None]) -> None:
            with contextlib.suppress(httpx.HTTPError):  # cut off by the kill: never acknowledged
                await request

        # Interleaved, so the kill cuts into each kind.
        requests: list[Coroutine[Any, Any, None]] = []
        for index, (case_id, phone) in enumerate(queued.items()):
            requests += [take(case_id), *(read(case_id, phone) for _ in range(3))]
            requests.append(report(f"1370000{index:04d}"))
        burst = asyncio.gather(*(attempt(request) for request in requests))
        await enough.wait()
        server.process.send_signal(signal.SIGKILL)
        await burst
    return done


def _audit_verify(data_dir: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    keys = data_dir.with_name(f"{data_dir.name}-keys")
    env = os.environ | {
        "KUAICHU_DATA_DIR": str(data_dir),
        "KUAICHU_DATABASE_URL": database_url,
        "KUAICHU_AUDIT_KEY_FILE": str(data_dir / "no-such-key.pem"),
        "KUAICHU_AUDIT_PUBLIC_KEY_FILE": str(keys / "audit-key.pub.pem"),
    }
    command = [sys.executable, "-m", "kuaichu.cli", "audit", "verify"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_mid_burst_loses_nothing_acknowledged(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = (
        f"sqlite:///{tmp_path / 'kuaichu.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres")
    )
    database = prepare_database(database_url)
    data_dir = tmp_path / "data"
    server = start_server(data_dir, database_url)
    try:

        async def before() -> dict[int, str]:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                phones = [f"1380000{index:04d}" for index in range(QUEUED)]
                return {await _report(client, phone): phone for phone in phones}

        queued = asyncio.run(before())
        done = asyncio.run(_burst(server, queued))
    finally:
        server.stop()
    assert server.process.returncode == -signal.SIGKILL
    assert done.count < len(queued) * 5  # killed mid-burst

    restarted = start_server(data_dir, database_url)  # signs the head left unsigned, if any
    restarted.stop()

    def found(session: Session) -> dict[str, object]:
        taken = set(done.taken)
        return {
            "in_call": set(
                session.scalars(select(Case.id).where(Case.id.in_(taken), Case.state == CaseState.IN_CALL))
            ),
            "take_lines": set(
                session.scalars(
                    select(TimelineEvent.case_id).where(
                        TimelineEvent.case_id.in_(taken), TimelineEvent.kind == "take"
                    )
                )
            ),
            "take_messages": set(
                session.scalars(
                    select(OutboxMessage.case_id).where(
                        OutboxMessage.case_id.in_(taken),
                        OutboxMessage.idempotency_key.like("push:case:%:call_taken:%"),
                    )
                )
            ),
            "take_entries": set(
                session.scalars(
                    select(AuditEntry.case_id).where(
                        AuditEntry.case_id.in_(taken), AuditEntry.action == "take"
                    )
                )
            ),
            "reads": Counter(
                dict(
                    session.execute(
                        select(AuditEntry.case_id, func.count())
                        .where(AuditEntry.action == "read_case", AuditEntry.actor_role == "party")
                        .group_by(AuditEntry.case_id)
                    ).all()
                )
            ),
            "reported": set(session.scalars(select(Case.id).where(Case.id.in_(done.reported)))),
        }

    after = database.write_sync(found)
    database.dispose()
    taken = set(done.taken)
    assert after["in_call"] == taken
    assert after["take_lines"] == taken
    assert after["take_messages"] == taken
    assert after["take_entries"] == taken
    reads = after["reads"]
    assert isinstance(reads, Counter)
    assert all(reads[case_id] >= count for case_id, count in done.reads.items())
    assert after["reported"] == set(done.reported)
    verified = _audit_verify(data_dir, database_url)
    assert verified.returncode == 0, verified.stderr
