"""One way to report: POST /api/calls, with its consent, one active case and limits."""

from conftest import XIHU, Api
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.calls.models import CallReport, QueueEntry
from kuaichu.cases.models import Case


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
