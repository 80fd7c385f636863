"""Signals through the API (issue 14): two parties logging in by SMS on one phone, the same
drivers in a second accident, the operator placing it far from where the phone reported and a
still taken again; the signals are computed when collection completes, listed and filtered for
the officer and the supervisor, said with reasons masked for the supervisor, and a bad filter is
a 422. A frequent party's earlier cases are computed again after the answer, by the signal job,
even when the process that answered is gone; an order that fails or is overdue is the
supervisor's to see, and only theirs. On SQLite and PostgreSQL."""

import io
from datetime import timedelta

import pytest
from asgi_lifespan import LifespanManager
from conftest import XIHU, Api
from factories import FACTS, demo_party, sign_all
from flows import collect_evidence, demo_registry
from PIL import Image, ImageDraw
from sqlalchemy import select

from kuaichu.app import create_app
from kuaichu.clock import FrozenClock
from kuaichu.principal import Role
from kuaichu.settings import Settings
from kuaichu.signals import service
from kuaichu.signals.models import LoginTrace, SignalOrder, StillHash

ZHANG, LI = "13800000001", "13900000002"
# 5.5 km north of the reported point: where the operator places the second accident.
FAR_AWAY = {"lat": XIHU["lat"] + 0.05, "lng": XIHU["lng"]}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two accidents within 30 days make a signal here (the default is three); the signal job
    runs when a commit wakes it or a test awaits it, not at its period."""
    return settings.model_copy(update={"signal_repeat_accidents": 2, "signal_order_sweep_seconds": 3600})


def still_jpeg() -> bytes:
    image = Image.new("RGB", (1280, 720), (110, 120, 130))
    draw = ImageDraw.Draw(image)
    for i in range(24):
        x, y = (i * 53) % 1180, (i * 37 + 91) % 620
        draw.rectangle([x, y, x + 90, y + 100], fill=((i * 40 + 70) % 255, (200 - i * 7) % 255, i * 10))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


STILL = still_jpeg()


async def collected(api: Api, reporter_phone: str, operator: dict[str, str], facts: dict[str, object]) -> int:
    """`reporter_phone` reports; the operator records `facts`, 张伟 and 李娜, everything the
    gate asks for, one still of the scene as a real picture, and completes the collection
    (letting through what the gate would still miss, with a reason)."""
    client = api.client
    reporter = await api.agreed_party(reporter_phone)
    case_id = (await client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    parties = {"parties": [demo_party("张伟"), demo_party("李娜")]}
    for response in (
        await client.post(f"/api/cases/{case_id}/take", headers=operator),
        await client.put(f"/api/cases/{case_id}/facts", json=facts, headers=operator),
        await client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator),
    ):
        assert response.status_code < 300, response.text
    await collect_evidence(api, case_id, operator)
    scene = {"file": ("scene.jpg", STILL, "image/jpeg")}
    upload = await client.post(
        f"/api/cases/{case_id}/evidence", headers=operator, files=scene, data={"kind": "collision_point"}
    )
    assert upload.status_code == 201, upload.text
    gate = (await client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()
    keys = [item["key"] for item in gate["missing"] if item["overridable"]]
    body = {"override": {"keys": keys, "reason": "现场条件所限，已当面核对"}} if keys else None
    response = await client.post(f"/api/cases/{case_id}/collection-complete", json=body, headers=operator)
    assert response.status_code == 200, response.text
    return case_id


async def test_signals_are_computed_listed_filtered_and_said_per_role(api: Api) -> None:
    client = api.client
    await demo_registry(api)
    assert demo_party("张伟")["phone"] == ZHANG and demo_party("李娜")["phone"] == LI
    # Both drivers log in by SMS on the same phone (one client: one device cookie).
    await api.party(ZHANG)
    await api.party(LI)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    other_operator = await api.staff("op-xihu-2", Role.OPERATOR, "330106")
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    elsewhere = await api.staff("officer-shangcheng", Role.OFFICER, "330102")
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)

    first = await collected(api, ZHANG, operator, FACTS)
    second = await collected(api, "13700000003", other_operator, {**FACTS, **FAR_AWAY})

    def stored(session: object) -> tuple[int, int]:
        return (
            len(session.scalars(select(LoginTrace)).all()),  # type: ignore[attr-defined]
            len(session.scalars(select(StillHash)).all()),  # type: ignore[attr-defined]
        )

    assert await api.context.database.read(stored) == (2, 2)

    async def names(case_id: int, headers: dict[str, str]) -> list[str]:
        response = await client.get(f"/api/cases/{case_id}/signals", headers=headers)
        assert response.status_code == 200, response.text
        return sorted({s["name"] for s in response.json()})

    # The first case was computed again by the signal job, after the second named it.
    await api.signals_recomputed()
    assert await names(first, officer) == ["repeated_identity", "reused_still", "shared_login"]
    assert await names(second, officer) == [
        "far_report_point",
        "repeated_identity",
        "reused_still",
        "shared_login",
    ]

    async def listed(headers: dict[str, str], query: str = "") -> list[int]:
        response = await client.get(f"/api/signals/cases{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert await listed(officer) == [second, first]  # newest first
    assert await listed(officer, "?signal=far_report_point") == [second]
    assert await listed(officer, "?signal=late_report") == []
    assert await listed(officer, "?signal=shared_login&state=collected") == [second, first]
    assert await listed(officer, "?state=evacuated") == []
    assert await listed(elsewhere) == []
    assert await listed(supervisor, "?signal=reused_still") == [second, first]
    # The cases list filters by signal too (oldest first, as staff lists are).
    by_signal = await client.get("/api/cases?signal=far_report_point", headers=officer)
    assert [c["id"] for c in by_signal.json()] == [second]
    assert [
        c["id"] for c in (await client.get("/api/cases?signal=shared_login", headers=officer)).json()
    ] == [
        first,
        second,
    ]

    # The reasons: the officer reads 张伟's phone in full, the supervisor masked.
    def phone_reason(signals: list[dict[str, str]]) -> str:
        return next(
            s["reason"] for s in signals if "电话" in s["reason"] and s["reason"].startswith("当事人1")
        )

    for_officer = (await client.get(f"/api/cases/{second}/signals", headers=officer)).json()
    for_supervisor = (await client.get(f"/api/cases/{second}/signals", headers=supervisor)).json()
    assert ZHANG in phone_reason(for_officer)
    assert "138****0001" in phone_reason(for_supervisor) and ZHANG not in phone_reason(for_supervisor)
    far = next(s for s in for_officer if s["name"] == "far_report_point")
    assert far["label"] == "报警定位远离事故地点"
    assert far["reason"].startswith("报警定位距记录的事故地点约5560米")
    shared = next(s for s in for_officer if s["name"] == "shared_login")
    assert shared["reason"] == "当事人1与当事人2从同一设备登录"

    rules = (await client.get("/api/signals/rules", headers=supervisor)).json()
    assert [r["name"] for r in rules] == [
        "repeated_identity",
        "shared_login",
        "far_report_point",
        "late_report",
        "reused_still",
    ]


async def test_a_bad_filter_is_refused_and_parties_see_no_signals(api: Api) -> None:
    client = api.client
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    for query in ("?signal=staged", "?signal=", "?state=flying", "?signal=%00"):
        response = await client.get(f"/api/signals/cases{query}", headers=officer)
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for path in ("/api/cases/0/signals", "/api/cases/99999999999/signals"):
        assert (await client.get(path, headers=officer)).status_code == 422
    assert (await client.get("/api/cases/4242/signals", headers=officer)).status_code == 404
    party = api.party_token(ZHANG)
    # Outside the roles a route serves: not found, so its scope does not leak.
    assert (await client.get("/api/signals/cases", headers=party)).status_code == 404
    # A party may list their own cases, but never learn whether one has a signal.
    refused = await client.get("/api/cases?signal=shared_login", headers=party)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "只有民警、复核民警和监管人员可按风险提示筛选"
    assert (await client.get("/api/cases?signal=staged", headers=officer)).status_code == 422
    assert (await client.get("/api/signals/rules")).status_code == 401


# A frequent party: the earlier cases are computed again after the answer.


def held_back(api: Api) -> list[str]:
    """The commits' wake-ups of the signal job are noted, not acted on: the job runs when the
    test awaits it, as when the woken run has not come yet."""
    woken: list[str] = []
    api.app.state.wake_signals = lambda: woken.append("signals")
    return woken


async def ordered(api: Api) -> list[int]:
    """The cases the signal orders waiting name, oldest order first."""
    query = select(SignalOrder.case_id).order_by(SignalOrder.id)
    return await api.context.database.read(lambda s: list(s.scalars(query)))


async def repeated_reasons(api: Api, case_id: int, officer: dict[str, str]) -> list[str]:
    response = await api.client.get(f"/api/cases/{case_id}/signals", headers=officer)
    assert response.status_code == 200, response.text
    return [s["reason"] for s in response.json() if s["name"] == "repeated_identity"]


async def number_of(api: Api, case_id: int, officer: dict[str, str]) -> str:
    return str((await api.client.get(f"/api/cases/{case_id}", headers=officer)).json()["number"])


async def test_a_frequent_partys_evacuation_answers_and_the_job_then_names_it_on_the_earlier_cases(
    api: Api,
) -> None:
    """张伟 and 李娜 in a third accident: its collection and its evacuation each order the two
    earlier cases computed again, and answer without doing it; until the job runs those show
    what they showed; the job computes each once and they name the new case."""
    await demo_registry(api)
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    operators = [await api.staff(f"op-xihu-{n}", Role.OPERATOR, "330106") for n in (1, 2, 3)]
    first = await collected(api, "13700000003", operators[0], FACTS)
    second = await collected(api, "13700000004", operators[1], FACTS)
    await api.signals_recomputed()
    before = await repeated_reasons(api, first, officer)
    second_number = await number_of(api, second, officer)
    assert before and all(second_number in r for r in before)

    woken = held_back(api)
    newest = await collected(api, "13700000005", operators[2], FACTS)
    await sign_all(api.client, newest, api.party_token(ZHANG), api.party_token(LI))
    response = await api.client.post(f"/api/cases/{newest}/evacuate", headers=operators[2])
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "evacuated"
    assert woken == ["signals", "signals"]  # collection complete, evacuation
    assert await ordered(api) == [first, second, first, second]
    new_number = await number_of(api, newest, officer)
    assert await repeated_reasons(api, newest, officer)  # its own signals: at once
    assert await repeated_reasons(api, first, officer) == before  # the earlier: as they were

    assert await api.signals_recomputed() == 2  # four orders, two cases, each computed once
    assert await ordered(api) == []
    for earlier in (first, second):
        reasons = await repeated_reasons(api, earlier, officer)
        assert len(reasons) == len(before) and all(new_number in r for r in reasons)
    assert await api.signals_recomputed() == 0


async def test_an_order_left_by_a_process_that_stopped_is_carried_out_by_the_next_to_start(
    api: Api, settings: Settings, clock: FrozenClock
) -> None:
    await demo_registry(api)
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    operators = [await api.staff(f"op-xihu-{n}", Role.OPERATOR, "330106") for n in (1, 2)]
    held_back(api)
    first = await collected(api, "13700000003", operators[0], FACTS)
    second = await collected(api, "13700000004", operators[1], FACTS)
    assert await ordered(api) == [first]
    assert await repeated_reasons(api, first, officer) == []

    # What the collection committed is all another process needs (as after a kill -9).
    restarted = create_app(settings, clock)
    async with LifespanManager(restarted):
        await restarted.state.signal_job.run_once()  # the run at its start, awaited
    assert await ordered(api) == []
    second_number = await number_of(api, second, officer)
    reasons = await repeated_reasons(api, first, officer)
    assert reasons and all(second_number in r for r in reasons)


async def test_an_overdue_or_failing_order_is_seen_by_the_supervisor_and_no_one_else(
    api: Api, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second accident orders the first case computed again. No run takes it for two sweep
    periods: the supervisor sees it overdue. A run fails on it: the supervisor sees the failure
    by the case's number and the error's kind, not its message (which quotes a plate). Officers
    and operators get a 404. Once a run computes it, the view is empty."""
    await demo_registry(api)
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    operators = [await api.staff(f"op-xihu-{n}", Role.OPERATOR, "330106") for n in (1, 2)]
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)

    async def stuck() -> dict[str, object]:
        response = await api.client.get("/api/supervision/signals", headers=supervisor)
        assert response.status_code == 200, response.text
        return dict(response.json())

    held_back(api)
    first = await collected(api, "13700000003", operators[0], FACTS)
    await collected(api, "13700000004", operators[1], FACTS)
    assert await ordered(api) == [first]
    first_number = await number_of(api, first, officer)
    assert await stuck() == {"count": 0, "oldest_ordered_at": None, "cases": []}  # just ordered

    # No run took it for two sweep periods (a minute each, as the view reads it): overdue.
    api.context.settings.signal_order_sweep_seconds = 60
    clock.advance(timedelta(minutes=2, seconds=1))
    overdue = await stuck()
    assert overdue["count"] == 1 and overdue["oldest_ordered_at"] is not None
    [case] = overdue["cases"]  # type: ignore[misc]
    assert (case["number"], case["case_id"], case["attempts"], case["last_error"]) == (
        first_number,
        first,
        0,
        "",
    )

    computed = service.findings_of

    def failing_for_first(session, case, config):  # type: ignore[no-untyped-def]
        if case.id == first:
            raise ValueError("a rule met plate 浙A12345 it cannot read")
        return computed(session, case, config)

    monkeypatch.setattr(service, "findings_of", failing_for_first)
    assert await api.signals_recomputed() == 0
    failing = await stuck()
    [case] = failing["cases"]  # type: ignore[misc]
    assert (case["number"], case["orders"], case["attempts"], case["last_error"]) == (
        first_number,
        1,
        1,
        "ValueError",
    )
    assert "浙A12345" not in str(failing)

    for other in (officer, operators[0]):
        assert (await api.client.get("/api/supervision/signals", headers=other)).status_code == 404

    monkeypatch.setattr(service, "findings_of", computed)
    clock.advance(timedelta(seconds=5))
    assert await api.signals_recomputed() == 1
    assert (await stuck())["count"] == 0
