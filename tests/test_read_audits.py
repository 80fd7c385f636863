"""Reads of a case run outside the write path, and each is on the audit log before it is
answered: many readers share one append, the chain holds, every commit is signed."""

import asyncio

import httpx
import pytest
from conftest import XIHU, Api
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.models import AuditCheckpoint, AuditEntry
from kuaichu.audit.reads import audited_read
from kuaichu.principal import Principal, Role


async def _reported_case(api: Api) -> tuple[int, dict[str, str], dict[str, str]]:
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    return case_id, reporter, operator


def _reads(session: Session, case_id: int) -> list[tuple[str, str, str | None]]:
    query = (
        select(AuditEntry.action, AuditEntry.actor_role, AuditEntry.address)
        .where(AuditEntry.case_id == case_id, AuditEntry.action.in_(("read_case", "read_timeline")))
        .order_by(AuditEntry.id)
    )
    return [tuple(row) for row in session.execute(query)]


async def test_many_simultaneous_reads_are_each_on_the_log_and_the_chain_holds(api: Api) -> None:
    case_id, reporter, operator = await _reported_case(api)
    readers = [operator, reporter] * 10 + [operator] * 5

    responses = await asyncio.gather(
        *(api.client.get(f"/api/cases/{case_id}", headers=headers) for headers in readers),
        api.client.get(f"/api/cases/{case_id}/timeline", headers=operator),
    )

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    reads = await api.context.database.read(lambda s: _reads(s, case_id))
    assert sorted(role for action, role, _ in reads if action == "read_case") == sorted(
        ["operator"] * 15 + ["party"] * 10
    )
    assert [action for action, _, _ in reads].count("read_timeline") == 1
    verified = await api.context.database.read(lambda s: audit.verify(s, api.context.audit_signer))
    assert verified.ok and verified.unsigned == 0


async def test_a_read_refused_records_nothing(api: Api) -> None:
    case_id, _, _ = await _reported_case(api)
    stranger = api.party_token("13700000009")

    response = await api.client.get(f"/api/cases/{case_id}", headers=stranger)

    assert response.status_code == 404
    assert await api.context.database.read(lambda s: _reads(s, case_id)) == []


async def test_a_read_whose_entry_cannot_be_written_is_not_answered(api: Api) -> None:
    """The log refuses new lines (a trigger, as a full disk or a lost connection would): the
    reader gets an error, never the case."""
    case_id, reporter, _ = await _reported_case(api)
    database = api.context.database
    refuse = (
        "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        " LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON audit_entries"
        " FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
        if database.is_postgres
        else "CREATE TRIGGER refuse BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    database.write_sync(lambda s: s.execute(text(refuse)))
    # As a server answers it: the error reaches the reader as a response, not an exception.
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            response = await client.get(f"/api/cases/{case_id}", headers=reporter)
    finally:
        undo = "DROP TRIGGER refuse" + (
            " ON audit_entries; DROP FUNCTION refuse_audit()" if database.is_postgres else ""
        )
        database.write_sync(lambda s: s.execute(text(undo)))

    assert response.status_code >= 500
    assert "13800000001" not in response.text
    assert await database.read(lambda s: _reads(s, case_id)) == []


async def test_one_append_of_many_entries_keeps_the_chains_order(api: Api) -> None:
    """Entries with and without an address in one commit: the ids follow the chain."""
    people = [
        Principal(role=Role.SYSTEM, label="系统"),
        Principal(role=Role.OPERATOR, id=7, label="坐席", address="10.0.0.7"),
    ] * 4
    now = api.context.clock.now()

    def append(session: Session) -> None:
        for person in people:
            audit.record(session, person, "test", now)

    await api.context.database.write(append)

    verified = await api.context.database.read(lambda s: audit.verify(s, api.context.audit_signer))
    assert verified.ok and verified.unsigned == 0


async def test_a_read_arriving_a_moment_after_another_shares_its_commit(api: Api) -> None:
    """Under load the next request is a loop round behind: its entry joins the batch."""
    database = api.context.database
    if database.is_postgres:
        pytest.skip("a read on PostgreSQL runs in a worker thread, not in the loop's rounds")
    reader = Principal(role=Role.OPERATOR, id=7, label="坐席", address="10.0.0.7")
    now = api.context.clock.now()
    commits = lambda s: s.scalar(select(func.count()).select_from(AuditCheckpoint))  # noqa: E731
    before = await database.read(commits)

    def read(session: Session) -> None:
        audit.record(session, reader, "read_case", now)

    first = asyncio.create_task(audited_read(database, read))
    await asyncio.sleep(0)  # the first read has run and waits on its entry's commit
    second = asyncio.create_task(audited_read(database, read))
    await asyncio.gather(first, second)

    assert await database.read(commits) == before + 1  # every commit signs the head
    verified = await database.read(lambda s: audit.verify(s, api.context.audit_signer))
    assert verified.ok and verified.unsigned == 0
