"""A call reported while an operator waits is offered by the report's own transaction: the
operator hears of it when the report commits, not after the queue's pass that follows it
(which, in a burst of reports, waits behind many others)."""

from conftest import XIHU, Api
from sqlalchemy import update
from sqlalchemy.orm import Session

from kuaichu.auth.service import party_principal
from kuaichu.calls import queue
from kuaichu.calls.models import OperatorPresence
from kuaichu.calls.queue import CallRules, Joined
from kuaichu.calls.schemas import CallReportIn, PresenceStatus
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case
from kuaichu.principal import Role


async def operator_with_status(api: Api, username: str, status: PresenceStatus) -> dict[str, str]:
    headers = await api.staff(username, Role.OPERATOR, "330106")
    response = await api.client.put("/api/operators/me/presence", json={"status": status}, headers=headers)
    assert response.status_code == 200, response.text
    return headers


async def reported_without_a_pass(api: Api, phone: str) -> Joined:
    """The report's unit of work alone: no queue pass runs after it."""
    await api.agreed_party(phone)
    party = party_principal(phone)
    rules = CallRules.from_settings(api.context.settings)
    now = api.context.clock.now()
    report = CallReportIn(**XIHU)
    return await api.context.database.write(
        lambda s: queue.report_call(s, party, report, rules, now, "10.0.0.1")
    )


async def state_of(api: Api, case_id: int) -> str:
    def read(session: Session) -> str:
        case = session.get(Case, case_id)
        assert case is not None
        return case.state

    return await api.context.database.read(read)


async def test_a_waiting_operator_is_offered_the_call_by_the_report_itself(api: Api) -> None:
    await operator_with_status(api, "op-waiting", PresenceStatus.AVAILABLE)

    joined = await reported_without_a_pass(api, "13700000001")

    assert joined.new
    assert [offer.case_id for offer in joined.offers] == [joined.case.id]
    assert await state_of(api, joined.case.id) == CaseState.IN_CALL


async def test_with_nobody_waiting_the_report_offers_nothing_and_the_call_waits(api: Api) -> None:
    await operator_with_status(api, "op-away", PresenceStatus.AWAY)

    joined = await reported_without_a_pass(api, "13700000002")

    assert joined.offers == []
    assert await state_of(api, joined.case.id) == CaseState.QUEUED


async def test_a_report_offers_the_call_that_waited_longer_first(api: Api) -> None:
    await operator_with_status(api, "op-back", PresenceStatus.AWAY)
    earlier = await reported_without_a_pass(api, "13700000003")
    # The operator's 空闲 and the earlier report committed side by side and neither saw the
    # other (PostgreSQL, two processes): the operator waits while a call waits too.
    await api.context.database.write(
        lambda s: s.execute(update(OperatorPresence).values(status=PresenceStatus.AVAILABLE))
    )

    later = await reported_without_a_pass(api, "13700000004")

    assert [offer.case_id for offer in later.offers] == [earlier.case.id]
    assert await state_of(api, earlier.case.id) == CaseState.IN_CALL
    assert await state_of(api, later.case.id) == CaseState.QUEUED


async def test_the_reporters_answer_says_in_the_call_when_its_report_offered_it(api: Api) -> None:
    await operator_with_status(api, "op-ready", PresenceStatus.AVAILABLE)
    headers = await api.agreed_party("13700000005")

    response = await api.client.post("/api/calls", json=XIHU, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["state"] == CaseState.IN_CALL
    assert response.json()["position"] is None
