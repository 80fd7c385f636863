"""One way to report (POST /api/calls), and its limits hold when reports arrive all at once."""

import asyncio

import pytest
from conftest import XIHU, Api
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.calls.models import CallReport, QueueEntry
from kuaichu.cases.models import Case
from kuaichu.settings import Settings

PER_ADDRESS = 5
ADDRESS_REFUSAL = "当前网络报警次数过多，请稍后再试；如情况紧急，请拨打122报警"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"reports_per_address_per_hour": PER_ADDRESS})


async def stored(api: Api) -> dict[str, int]:
    """How many cases, queue entries and counted reports the database holds."""

    def count(session: Session) -> dict[str, int]:
        tables = {"cases": Case, "queue": QueueEntry, "reports": CallReport}
        return {name: session.scalar(select(func.count()).select_from(t)) or 0 for name, t in tables.items()}

    return await api.context.database.read(count)


async def test_a_case_is_reported_only_through_the_call_with_its_checks(api: Api) -> None:
    """No second door: POST /api/cases is gone, so consent, one active case per phone and the
    limits cannot be stepped around; the one-tap call is the only way in."""
    party = api.party_token("13600000001")
    assert (await api.client.post("/api/cases", json=XIHU, headers=party)).status_code == 405
    refused = await api.client.post("/api/calls", json=XIHU, headers=party)
    assert refused.status_code == 409 and refused.json()["code"] == "consent_required"

    agreed = await api.agreed_party("13600000001")
    first = await api.client.post("/api/calls", json=XIHU, headers=agreed)
    assert first.status_code == 201, first.text
    assert (await api.client.post("/api/cases", json=XIHU, headers=agreed)).status_code == 405
    assert await stored(api) == {"cases": 1, "queue": 1, "reports": 1}
    schema = (await api.client.get("/openapi.json")).json()
    assert "post" not in schema["paths"]["/api/cases"]


async def test_simultaneous_reports_from_one_address_stop_at_its_limit(api: Api) -> None:
    """Thirty phones behind one address report at once: the address's hourly limit admits five,
    the others hear why (429) and leave no case, queue entry or counted report behind."""
    parties = [await api.agreed_party(f"1360000{n:04d}") for n in range(30)]
    answers = await asyncio.gather(*(api.client.post("/api/calls", json=XIHU, headers=p) for p in parties))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * PER_ADDRESS + [429] * (30 - PER_ADDRESS), [a.text for a in answers]
    refusals = [answer for answer in answers if answer.status_code == 429]
    assert {answer.json()["detail"] for answer in refusals} == {ADDRESS_REFUSAL}
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in refusals)
    assert await stored(api) == {"cases": PER_ADDRESS, "queue": PER_ADDRESS, "reports": PER_ADDRESS}
    numbers = sorted(answer.json()["number"] for answer in answers if answer.status_code == 201)
    assert numbers[-1] == f"33010620261125{PER_ADDRESS:05d}"  # a refused report used no number
