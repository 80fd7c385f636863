"""Insurers and their agents (保险公司坐席) for the tests of the insurer seat."""

from conftest import STAFF_PASSWORD, Api
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer, User
from kuaichu.auth.service import create_insurer_agent
from kuaichu.calls.models import CallSession
from kuaichu.seats.models import InsurerInvitation

INSURERS = {"PICC": "中国人民财产保险", "CPIC": "中国太平洋财产保险", "PAIC": "中国平安财产保险"}


def registered(session: Session, code: str) -> Insurer:
    insurer = session.scalars(select(Insurer).where(Insurer.code == code)).first()
    if insurer is None:
        insurer = Insurer(code=code, name=INSURERS.get(code, code))
        session.add(insurer)
        session.flush()
    return insurer


async def agent(api: Api, username: str, insurer_code: str, name: str = "王理赔") -> dict[str, str]:
    """An admin creates the insurer's agent; the agent logs in with their password."""

    def create(session: Session) -> None:
        registered(session, insurer_code)
        create_insurer_agent(
            session,
            username=username,
            password=STAFF_PASSWORD,
            display_name=name,
            insurer_code=insurer_code,
            now=api.context.clock.now(),
        )

    await api.context.database.write(create)
    response = await api.client.post(
        "/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "insurer_agent"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def invited_to_an_earlier_call(api: Api, case_id: int, insurer_code: str) -> None:
    """The insurer was invited into an earlier call of the case, which ended: its agents see the
    case (as an agent sees it) with no call to sit in. For the walks of an app without a media
    server, where the console cannot invite (the insurer seat needs Janus)."""

    def invite(session: Session) -> None:
        registered(session, insurer_code)
        now = api.context.clock.now()
        operator_id = session.scalars(select(User.id).where(User.role == "operator")).first()
        assert operator_id is not None
        call = CallSession(case_id=case_id, operator_id=operator_id, started_at=now, ended_at=now)
        session.add(call)
        session.flush()
        session.add(
            InsurerInvitation(
                case_id=case_id,
                call_id=call.id,
                insurer_code=insurer_code,
                invited_by=operator_id,
                invited_at=now,
                expires_at=now,
            )
        )

    await api.context.database.write(invite)
