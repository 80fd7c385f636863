"""监管: a full case replayed in order, timings against the targets, queue health, staffing."""

from datetime import timedelta

from conftest import XIHU, Api
from flows import determined_case, evacuated_case, rear_end_decision

from kuaichu.clock import FrozenClock
from kuaichu.principal import Role


async def test_supervisor_replay_shows_every_step_in_order(api: Api) -> None:
    case = await evacuated_case(api)
    decision = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert decision.status_code == 200, decision.text
    await api.documents_made()
    reviewer = await api.staff("reviewer", Role.REVIEWER)
    await api.client.post(
        f"/api/cases/{case.id}/review", json={"reasons": "对方变道在先，有视频"}, headers=case.other
    )
    await api.client.post(
        f"/api/cases/{case.id}/review/decision", json={"outcome": "upheld", "note": "维持"}, headers=reviewer
    )
    await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)

    response = await api.client.get(f"/api/supervision/cases/{case.id}/replay", headers=supervisor)
    assert response.status_code == 200, response.text
    replay = response.json()
    assert [e["kind"] for e in replay["timeline"]] == [
        "report",
        "take",
        "facts_recorded",
        "parties_recorded",
        "registry_checked",
        "circumstances_recorded",
        "liability_facts_recorded",
        *["evidence_added"] * 6,
        *["party_signed"] * 2,
        "complete_collection",
        "evacuate",
        "determine",
        "document_issued",
        "request_review",
        "uphold",
        "push_claim",
    ]
    assert [e["state"] for e in replay["timeline"]][-1] == "closed"
    assert replay["case"]["state"] == "closed"
    # The six stills and the two parties' signatures.
    assert len(replay["evidence"]) == 8
    assert [d["status"] for d in replay["determinations"]] == ["in_force"]
    assert [d["status"] for d in replay["documents"]] == ["in_force"]
    assert {(c["party_name"], c["kind"], c["outcome"]) for c in replay["registry_checks"]} >= {
        ("张伟", "licence", "passed"),
        ("李娜", "insurance", "passed"),
    }
    assert replay["review"]["outcome"] == "upheld"
    assert replay["claims"][0]["insurer_code"] == "CPIC"  # 李娜 is at fault; the registry names CPIC
    assert all("*" in p["id_number"] for p in replay["case"]["parties"])
    # Who saw what: the log names the supervisor's own replay last.
    assert replay["access_log"][-1]["action"] == "replay_case"
    assert replay["access_log"][-1]["actor_role"] == "supervisor"
    times = [e["at"] for e in replay["access_log"]]
    assert times == sorted(times)


async def test_only_supervisors_may_replay(api: Api) -> None:
    case = await determined_case(api)
    response = await api.client.get(f"/api/supervision/cases/{case.id}/replay", headers=case.officer)
    assert response.status_code == 404


async def test_timings_measure_the_case_against_the_five_and_eight_minute_targets(
    api: Api, clock: FrozenClock
) -> None:
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    clock.advance(timedelta(seconds=20))
    await api.client.post(f"/api/cases/{case_id}/take", headers=operator)
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    timings = (await api.client.get("/api/supervision/timings", headers=supervisor)).json()
    assert timings["queue_wait"]["count"] == 1
    assert timings["queue_wait"]["p50_seconds"] == 20
    assert timings["queue_wait"]["within_target"] == 1.0
    assert timings["collection"]["count"] == 0
    assert timings["collection"]["target_seconds"] == 300
    assert timings["determination"]["target_seconds"] == 480


async def test_queue_health_and_staffing_per_jurisdiction(api: Api) -> None:
    for i in range(3):
        await api.client.post("/api/calls", json=XIHU, headers=await api.agreed_party(f"1380000000{i}"))
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    await api.staff("op2-xihu", Role.OPERATOR, "330106")
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    queues = (await api.client.get("/api/supervision/queues", headers=supervisor)).json()
    assert next(q for q in queues if q["jurisdiction_code"] == "330106")["operators_by_state"] == {}
    presence = await api.client.put("/api/operators/me/presence", json={"status": "away"}, headers=operator)
    assert presence.status_code == 200, presence.text
    queues = (await api.client.get("/api/supervision/queues", headers=supervisor)).json()
    xihu = next(q for q in queues if q["jurisdiction_code"] == "330106")
    assert xihu["waiting"] == 3
    assert xihu["operators_on_roster"] == 2
    assert xihu["operators_by_state"] == {"away": 1}  # the other console never reported
    staffing = (await api.client.get("/api/supervision/staffing/330106", headers=supervisor)).json()
    assert staffing["calls_per_hour"] == 3
    assert staffing["operators_needed"] >= 1
    assert staffing["operators_on_roster"] == 2
    unknown = await api.client.get("/api/supervision/staffing/999999", headers=supervisor)
    assert unknown.status_code == 404
