"""An insurer's seat in a live call (issue 12): the operator invites an insurer, its agent joins
the call's room (publishing: they see and speak), writes nothing, and their time in the call is
audited and on the replay. Every misuse is a clear refusal that changes nothing.

The media server here does not answer (as in test_media_rooms): a pass is refused with 503 but
the seat (and the agent's presence) is written first, as the app does before Janus hears of it.
tests/test_insurer_seat_browser.py runs the same with Janus for real.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import STAFF_PASSWORD, Api
from factories import FACTS, JPEG_BYTES, demo_party
from flows import demo_registry
from insurer_seats import agent, registered
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_media_rooms import call_in_progress, media_api

from kuaichu.audit.models import AuditEntry
from kuaichu.auth.models import Insurer, User
from kuaichu.auth.sessions import deactivate_user
from kuaichu.calls.connections import mark_connection
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.media.models import MediaSeat
from kuaichu.principal import Principal, Role
from kuaichu.seats.models import InsurerInvitation, InsurerPresence

__all__ = ["media_api"]  # the app with a (silent) media server configured

CPIC_AGENT = "cpic-wang"


async def recorded_call(api: Api) -> tuple[int, dict[str, str], dict[str, str]]:
    """A call in progress with the facts and 张伟 and 李娜 recorded and checked (张伟 is insured
    with PICC, 李娜 with CPIC)."""
    await demo_registry(api)
    for code in ("PICC", "CPIC", "PAIC"):
        await api.context.database.write(lambda s, c=code: registered(s, c))
    case_id, party, operator = await call_in_progress(api)
    # The console joined the call (its socket does), so the call holds while the clock moves.
    now = api.context.clock.now()
    await api.context.database.write(lambda s: mark_connection(s, Role.OPERATOR, case_id, True, now))
    parties = {"parties": [demo_party("张伟"), demo_party("李娜")]}
    for response in (
        await api.client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator),
        await api.client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator),
        await api.client.post(f"/api/cases/{case_id}/checks", headers=operator),
    ):
        assert response.status_code < 300, response.text
    return case_id, party, operator


async def invite(api: Api, case_id: int, operator: dict[str, str], code: str) -> Any:
    return await api.client.post(
        f"/api/cases/{case_id}/insurer-invitations", json={"insurer_code": code}, headers=operator
    )


async def audited(api: Api, case_id: int, action: str) -> list[dict[str, Any]]:
    def read(session: Session) -> list[dict[str, Any]]:
        query = select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == action)
        return [
            {"actor": e.actor_label, "role": e.actor_role, **(e.detail or {})} for e in session.scalars(query)
        ]

    return await api.context.database.read(read)


async def seat_rows(api: Api) -> dict[str, int]:
    def count(session: Session) -> dict[str, int]:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (InsurerInvitation, InsurerPresence, MediaSeat)
        }

    return await api.context.database.read(count)


async def test_an_admin_makes_an_agent_who_logs_in_with_a_password_and_acts_for_one_insurer(api: Api) -> None:
    headers = await agent(api, CPIC_AGENT, "CPIC")
    me = (await api.client.get("/api/auth/me", headers=headers)).json()
    assert (me["role"], me["name"]) == ("insurer_agent", "王理赔")
    # An agent has no cases until their insurer is invited into a call (or holds a claim).
    assert (await api.client.get("/api/cases", headers=headers)).json() == []
    assert (await api.client.get("/api/insurer-seat/invitations", headers=headers)).json() == []

    refused = await api.client.post(
        "/api/auth/staff", json={"username": CPIC_AGENT, "password": "wrong-password-1"}
    )
    assert refused.status_code == 401

    # Deactivated by an admin: the session ends at its next request, as a staff member's does.
    admin = Principal(role=Role.ADMIN, label="管理员")
    now = api.context.clock.now()
    await api.context.database.write(lambda s: deactivate_user(s, CPIC_AGENT, admin, now))
    assert (await api.client.get("/api/insurer-seat/invitations", headers=headers)).status_code == 401
    again = await api.client.post(
        "/api/auth/staff", json={"username": CPIC_AGENT, "password": STAFF_PASSWORD}
    )
    assert again.status_code == 401


async def test_the_invited_insurers_agent_joins_sees_and_speaks_but_changes_nothing(
    media_api: Api, clock: FrozenClock
) -> None:
    api = media_api
    case_id, _, operator = await recorded_call(api)
    cpic = await agent(api, CPIC_AGENT, "CPIC")

    # The console offers the parties' insurers first, as the registry checks found them.
    choices = (await api.client.get(f"/api/cases/{case_id}/insurer-invitations", headers=operator)).json()
    offered = [(c["code"], c["parties"]) for c in choices["insurers"]]
    assert offered[:2] == [("CPIC", ["乙"]), ("PICC", ["甲"])], offered
    assert ("PAIC", []) in offered

    response = await invite(api, case_id, operator, "CPIC")
    assert response.status_code == 201, response.text
    invitation = response.json()
    assert invitation["insurer_name"] == "中国太平洋财产保险"
    assert (await audited(api, case_id, "invite_insurer"))[0]["insurer_code"] == "CPIC"

    # The agent's page lists the invitation and opens the case, personal data masked.
    listed = (await api.client.get("/api/insurer-seat/invitations", headers=cpic)).json()
    assert [i["case_id"] for i in listed] == [case_id]
    case = (await api.client.get(f"/api/cases/{case_id}", headers=cpic)).json()
    assert case["allowed_actions"] == []
    for seen, recorded in zip(case["parties"], [demo_party("张伟"), demo_party("李娜")], strict=True):
        assert seen["id_number"] != recorded["id_number"] and "*" in seen["id_number"]
        assert seen["phone"] != recorded["phone"]

    # Joining is the agent's seat in the room: they publish (see and speak).
    clock.advance(timedelta(minutes=1))
    joined = await api.client.post(f"/api/cases/{case_id}/media-pass", headers=cpic)
    assert joined.status_code == 503  # this media server does not answer; the seat is written
    seats = await api.context.database.read(
        lambda s: [(m.role, m.publishes) for m in s.scalars(select(MediaSeat).order_by(MediaSeat.id))]
    )
    assert seats == [("insurer_agent", True)]
    assert (await audited(api, case_id, "insurer_seat_joined"))[0]["actor"] == "王理赔"

    # Every write the operator or a party may make is refused to the agent, and changes nothing.
    before = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    writes = [
        ("PUT", f"/api/cases/{case_id}/facts", {"json": FACTS}),
        ("PUT", f"/api/cases/{case_id}/parties", {"json": {"parties": [demo_party("张伟")]}}),
        ("POST", f"/api/cases/{case_id}/checks", {}),
        ("POST", f"/api/cases/{case_id}/collection-complete", {}),
        ("POST", f"/api/cases/{case_id}/transfer", {"json": {"reason": "有人受伤"}}),
        ("POST", f"/api/calls/{case_id}/hangup", {}),
        ("POST", f"/api/cases/{case_id}/insurer-invitations", {"json": {"insurer_code": "PAIC"}}),
        (
            "POST",
            f"/api/cases/{case_id}/evidence",
            {"data": {"kind": "collision_point"}, "files": {"file": ("still.jpg", JPEG_BYTES, "image/jpeg")}},
        ),
    ]
    for method, path, body in writes:
        refused = await api.client.request(method, path, headers=cpic, **body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"] == "保险公司坐席只能观看和通话，不能修改案件", path
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json() == before

    # Leaving ends the agent's time in the call; the replay says who was there and when.
    clock.advance(timedelta(minutes=4))
    assert (
        await api.client.post(f"/api/cases/{case_id}/insurer-seat/leave", headers=cpic)
    ).status_code == 204
    assert (await audited(api, case_id, "insurer_seat_left"))[0]["insurer_code"] == "CPIC"
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    replay = (await api.client.get(f"/api/supervision/cases/{case_id}/replay", headers=supervisor)).json()
    [seat] = replay["insurer_seats"]
    assert (seat["insurer_name"], seat["agent"]) == ("中国太平洋财产保险", "王理赔")
    assert (seat["joined_at"], seat["left_at"]) == ("2026-11-25T02:01:00Z", "2026-11-25T02:05:00Z")


async def test_misuse_of_the_insurer_seat_is_refused_clearly_and_changes_nothing(
    media_api: Api, clock: FrozenClock
) -> None:
    api = media_api
    case_id, party, operator = await recorded_call(api)
    cpic = await agent(api, CPIC_AGENT, "CPIC")
    picc = await agent(api, "picc-li", "PICC", "李查勘")

    async def refused(response: Any, status: int, detail: str) -> None:
        before = await seat_rows(api)
        assert response.status_code == status, response.text
        assert response.json()["detail"] == detail
        assert await seat_rows(api) == before

    # No such insurer; another operator of the same jurisdiction; the party.
    await refused(await invite(api, case_id, operator, "NOPE"), 422, "没有代码为 NOPE 的保险公司")
    other_operator = await api.staff("op2-xihu", Role.OPERATOR, "330106")
    await refused(await invite(api, case_id, other_operator, "CPIC"), 403, "只有接警的坐席可以处理该案件")
    assert (await invite(api, case_id, party, "CPIC")).status_code == 404

    # An agent of an insurer not invited: the case does not exist for them.
    assert (await invite(api, case_id, operator, "CPIC")).status_code == 201
    await refused(
        await invite(api, case_id, operator, "CPIC"), 409, "已邀请中国太平洋财产保险加入本次通话，邀请仍有效"
    )
    assert (await api.client.get("/api/insurer-seat/invitations", headers=picc)).json() == []
    await refused(
        await api.client.post(f"/api/cases/{case_id}/media-pass", headers=picc), 404, "案件不存在或无权查看"
    )
    await refused(await api.client.get(f"/api/cases/{case_id}", headers=picc), 404, "案件不存在或无权查看")

    # Not in the call yet: nothing to leave.
    await refused(
        await api.client.post(f"/api/cases/{case_id}/insurer-seat/leave", headers=cpic),
        409,
        "您当前不在本案的通话中",
    )

    # The invitation expired before the agent joined; the operator may invite again.
    clock.advance(timedelta(minutes=11))
    assert (await api.client.get("/api/insurer-seat/invitations", headers=cpic)).json() == []
    await refused(
        await api.client.post(f"/api/cases/{case_id}/media-pass", headers=cpic),
        409,
        "邀请已过期，请联系坐席重新邀请",
    )
    assert (await invite(api, case_id, operator, "CPIC")).status_code == 201
    assert len(await audited(api, case_id, "invite_insurer")) == 2

    # The call ended: no invitation, no seat.
    transfer = {"reason": "需转现场处置"}
    assert (
        await api.client.post(f"/api/cases/{case_id}/transfer", json=transfer, headers=operator)
    ).is_success
    assert (await api.client.post(f"/api/calls/{case_id}/hangup", headers=operator)).is_success
    await refused(await invite(api, case_id, operator, "PICC"), 409, "本案的视频通话已结束或尚未开始")
    assert (await api.client.get("/api/insurer-seat/invitations", headers=cpic)).json() == []
    await refused(
        await api.client.post(f"/api/cases/{case_id}/media-pass", headers=cpic),
        409,
        "本案当前没有进行中的视频通话",
    )


async def test_without_a_media_server_the_insurer_seat_is_refused_clearly(api: Api) -> None:
    await demo_registry(api)
    await api.context.database.write(lambda s: registered(s, "CPIC"))
    case_id, _, operator = await call_in_progress(api)
    response = await invite(api, case_id, operator, "CPIC")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("保险公司坐席需要媒体服务器")
    assert await seat_rows(api) == {"insurer_invitations": 0, "insurer_presences": 0, "media_seats": 0}
    assert await audited(api, case_id, "invite_insurer") == []


def test_an_admin_makes_an_agent_on_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUAICHU_")}
    env |= {"KUAICHU_DATA_DIR": str(tmp_path / "data")}

    def kuaichu(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "kuaichu.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    assert kuaichu("insurer", "add", "CPIC", "中国太平洋财产保险").returncode == 0
    made = kuaichu("insurer", "agent", "CPIC", "cpic-wang", "--name", "王理赔", "--password", STAFF_PASSWORD)
    assert made.returncode == 0, made.stderr
    unknown = kuaichu("insurer", "agent", "NOPE", "nope-li", "--name", "李", "--password", STAFF_PASSWORD)
    assert unknown.returncode == 1
    assert "没有代码为 NOPE 的保险公司" in unknown.stderr

    database = Database(f"sqlite:///{tmp_path / 'data' / 'kuaichu.db'}")
    try:
        agents = database.write_sync(
            lambda s: s.execute(
                select(User.username, User.role, Insurer.code).join(Insurer, Insurer.id == User.insurer_id)
            ).all()
        )
    finally:
        database.dispose()
    assert [tuple(row) for row in agents] == [("cpic-wang", "insurer_agent", "CPIC")]
