"""Every write route × every role, owner and not owner, as the write-rule table says.

The table (kuaichu.cases.access.WRITE_ROUTES) names the rule of each write route; this file
fails for a write route without one, and walks each case-bound route with twelve callers: the
allowed ones get past access (no 401, 403 or 404), the others are refused (403 or 404) and
change nothing on the case.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from conftest import XIHU, Api
from factories import FACTS, JPEG_BYTES, demo_party, party_body, sign_all, signature_upload
from fastapi.routing import iter_route_contexts
from flows import (
    NO_CIRCUMSTANCES,
    REAR_END_ACTS,
    REPORTER,
    collect_evidence,
    in_call_case,
)
from insurer_seats import agent, invited_to_an_earlier_call
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.app import create_app
from kuaichu.auth.models import Insurer
from kuaichu.auth.service import create_api_key
from kuaichu.cases.access import CASELESS_RULES, WRITE_ROUTES, WriteRule
from kuaichu.principal import Role
from kuaichu.tables import Base

W = WriteRule
OTHER = "13900000002"  # 李娜, party 2 of the walked cases
STRANGER = "13700000009"

# The callers; "owner" is the party the case is about (the one who may act), "handling" the
# operator who took the call.
ROLES = (
    "party_owner",
    "party_stranger",
    "operator_handling",
    "operator_same_jurisdiction",
    "operator_other_jurisdiction",
    "officer",
    "reviewer",
    "supervisor",
    "insurer_of_claim",
    "insurer_other",
    "agent_invited",
    "agent_other",
)
# Who each rule lets past access. A caller let past may still meet the case's state (409) or
# a domain check (422): that is not an access refusal.
ALLOWED: dict[WriteRule, frozenset[str]] = {
    W.PARTY_OF_CASE: frozenset({"party_owner"}),
    W.OPERATOR_OF_JURISDICTION: frozenset({"operator_handling", "operator_same_jurisdiction"}),
    W.HANDLING_OPERATOR: frozenset({"operator_handling"}),
    W.COLLECTION: frozenset({"operator_handling", "supervisor"}),
    W.EVIDENCE: frozenset({"operator_handling", "supervisor", "party_owner"}),
    W.ACTS: frozenset({"operator_handling", "supervisor", "officer"}),
    W.DETERMINATION: frozenset({"officer"}),
    W.REVIEW: frozenset({"reviewer"}),
    W.INSURER_OF_CLAIM: frozenset({"insurer_of_claim"}),
    W.CALL_SEAT: frozenset({"operator_handling", "supervisor", "party_owner", "agent_invited"}),
    W.INSURER_SEAT: frozenset({"agent_invited"}),
}


def write_routes() -> set[tuple[str, str]]:
    app = create_app()
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in getattr(route, "methods", None) or ()
        if method in {"POST", "PUT", "PATCH", "DELETE"} and route.path
    }


def test_every_write_route_names_its_rule() -> None:
    routes = write_routes()
    assert sorted(routes - WRITE_ROUTES.keys()) == [], "write routes without a rule in WRITE_ROUTES"
    assert sorted(WRITE_ROUTES.keys() - routes) == [], "rules for routes that no longer exist"


def test_only_logins_and_the_public_verify_page_are_open() -> None:
    public = sorted(path for (_, path), rule in WRITE_ROUTES.items() if rule is W.PUBLIC)
    assert all(path.startswith(("/api/auth/", "/verify/")) for path in public), public
    assert set(ALLOWED) | CASELESS_RULES == set(WriteRule)


# The walks: each step is a write route with its body, tried by every caller on the case as
# the flow left it. The refused go first and must change nothing; then those let past, who
# move the case on (or meet its state, a 409, which is no access refusal).

Body = Callable[[dict[str, Any]], Any] | dict[str, Any] | None
UPLOAD = {"kind": "collision_point"}  # sent as a multipart upload with a JPEG
SIGNATURE = {"drawn": True}  # sent as the party page does: the drawing and the record's hash
PARTIES = {"parties": [demo_party("张伟"), demo_party("李娜")]}
REASON = {"reason": "需要进一步调查"}
NO_PHONE = {key: value for key, value in demo_party("李娜").items() if key != "phone"}  # the link gave it


@dataclass
class Step:
    route: tuple[str, str]
    body: Body = None
    # The write goes through for an allowed caller here (else the state answers: 409).
    succeeds: bool = True


def post(path: str, body: Body = None, succeeds: bool = True) -> Step:
    return Step(("POST", path), body, succeeds)


def put(path: str, body: Body = None) -> Step:
    return Step(("PUT", path), body)


def decision(ids: dict[str, Any]) -> dict[str, Any]:
    """Party 2 ran into party 1 from behind: full responsibility for party 2."""
    first, second = ids["party_ids"]
    return {
        "shares": [
            {"party_id": first, "responsibility": "none"},
            {"party_id": second, "responsibility": "full"},
        ],
        "reasoning": "乙车追尾甲车，未保持安全距离",
    }


CASE = "/api/cases/{case_id}"
QUEUED_WALK = [
    put("/api/calls/{case_id}/mode", {"mode": "audio"}),
    post("/api/calls/{case_id}/abandon"),
    post(f"{CASE}/abandon", succeeds=False),
    post(f"{CASE}/take", succeeds=False),
]
# From the call to the claim; `collect` (between the steps) fills in what the gate still asks.
CALL_WALK = [
    put(f"{CASE}/facts", FACTS),
    put(f"{CASE}/parties", PARTIES),
    # The join link in the call; no one asked to join, so there is no request to decide.
    post(f"{CASE}/join-link/sms", {"phone": "13600000003"}),
    post(f"{CASE}/join-link/revoke"),
    post(f"{CASE}/joins/admit", {"join_id": 2**31 - 1, **NO_PHONE}, succeeds=False),
    post(f"{CASE}/joins/refuse", {"join_id": 2**31 - 1}, succeeds=False),
    put(f"{CASE}/circumstances", NO_CIRCUMSTANCES),
    post(f"{CASE}/checks"),
    put(f"{CASE}/liability-facts", REAR_END_ACTS),
    post(f"{CASE}/evidence", UPLOAD),
    # A collision-point still is no plate nor licence: nothing for OCR to read (422).
    post(f"{CASE}/readings/{{evidence_id}}", succeeds=False),
    # Taken from the case list: no open call to sit in (nor a media server configured).
    post(f"{CASE}/media-pass", succeeds=False),
    # No media server: the insurer seat cannot be offered; the agent sits in no call to leave.
    post(f"{CASE}/insurer-invitations", {"insurer_code": "CPIC"}, succeeds=False),
    post(f"{CASE}/insurer-seat/leave", succeeds=False),
    "collect",
    # Each party signs the record on their own phone: the owner here, then 李娜 ("sign_other").
    post(f"{CASE}/signature", SIGNATURE),
    "sign_other",
    # The call was taken from the case list, not the call desk: no open call to hang up.
    post("/api/calls/{case_id}/hangup", succeeds=False),
    post(f"{CASE}/collection-complete"),
    post(f"{CASE}/evacuate"),
    post(f"{CASE}/transfer", {"reason": "有人受伤"}, succeeds=False),
    post(f"{CASE}/dispute", {"reason": "事后不认可"}, succeeds=False),
    post(f"{CASE}/determination", decision),
    # The document is made after the determination commits: let it be made before the walk
    # checks that refused writes change nothing.
    "document",
    post(f"{CASE}/send-back", REASON, succeeds=False),
    post(f"{CASE}/ordinary-procedure", REASON, succeeds=False),
    post(f"{CASE}/call-back", succeeds=False),
    post(f"{CASE}/review", {"reasons": "对方突然变道，并非追尾"}),
    post(f"{CASE}/review/decision", {"outcome": "upheld", "note": "事实清楚"}),
    post(f"{CASE}/claim"),
    post("/api/insurer/claims/{claim_id}/progress", {"status": "surveyor_assigned"}),
]
SETTLEMENT_WALK = [
    post(f"{CASE}/settlement/confirm"),
    post(f"{CASE}/settlement/reject", succeeds=False),
]
WALKS = {"queued": QUEUED_WALK, "call": CALL_WALK, "settlement": SETTLEMENT_WALK}


async def send(
    client: httpx.AsyncClient, step: Step, headers: dict[str, str], ids: dict[str, Any]
) -> httpx.Response:
    method, path = step.route
    url = path.format(**ids)
    if step.body is UPLOAD:
        files = {"file": ("still.jpg", JPEG_BYTES, "image/jpeg")}
        return await client.request(method, url, data=UPLOAD, files=files, headers=headers)
    if step.body is SIGNATURE:
        seen = await client.get(f"/api/cases/{ids['case_id']}/confirmation", headers=headers)
        content = seen.json()["content_sha256"] if seen.status_code == 200 else "0" * 64
        return await client.request(method, url, headers=headers, **signature_upload(content))
    json = step.body(ids) if callable(step.body) else step.body
    return await client.request(method, url, json=json, headers=headers)


def test_every_case_bound_rule_is_walked() -> None:
    case_bound = {route for route, rule in WRITE_ROUTES.items() if rule not in CASELESS_RULES}
    walked = [step.route for walk in WALKS.values() for step in walk if isinstance(step, Step)]
    assert sorted(walked) == sorted(case_bound)


async def _staff(api: Api, username: str, role: Role, jurisdiction: str | None = None) -> dict[str, str]:
    return await api.staff(username, role, jurisdiction)


async def _insurer(api: Api, code: str) -> dict[str, str]:
    def create(session: Session) -> str:
        insurer = session.scalars(select(Insurer).where(Insurer.code == code)).first()
        if insurer is None:
            insurer = Insurer(code=code, name=code)
            session.add(insurer)
            session.flush()
        return create_api_key(session, insurer, api.context.clock.now())

    return {"X-API-Key": await api.context.database.write(create)}


async def callers(
    api: Api,
    case_id: int,
    owner: dict[str, str],
    operator: dict[str, str],
    officer: dict[str, str] | None = None,
) -> dict[str, dict[str, str]]:
    # CPIC was invited into a call of the case (which ended): its agent sees the case, PICC's not.
    await invited_to_an_earlier_call(api, case_id, "CPIC")
    return {
        "party_owner": owner,
        "party_stranger": api.party_token(STRANGER),
        "operator_handling": operator,
        "operator_same_jurisdiction": await api.staff("op2-xihu", Role.OPERATOR, "330106"),
        "operator_other_jurisdiction": await api.staff("op-shangcheng", Role.OPERATOR, "330102"),
        "officer": officer or await api.staff("officer-xihu", Role.OFFICER, "330106"),
        "reviewer": await api.staff("reviewer", Role.REVIEWER),
        "supervisor": await api.staff("supervisor", Role.SUPERVISOR),
        # 李娜, insured with CPIC, bears the responsibility: her insurer gets the claim.
        "insurer_of_claim": await _insurer(api, "CPIC"),
        "insurer_other": await _insurer(api, "PICC"),
        "agent_invited": await agent(api, "cpic-agent", "CPIC"),
        "agent_other": await agent(api, "picc-agent", "PICC"),
    }


def _case_rows(session: Session, case_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Everything stored about the case (the audit log aside: reads are audited too)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name.startswith("audit"):
            continue
        if table.name == "cases":
            query = select(table).where(table.c.id == case_id)
        elif "case_id" in table.c:
            query = select(table).where(table.c.case_id == case_id)
        elif table.name in ("claim_progress", "operator_presence"):
            query = select(table)
        else:
            continue
        rows[table.name] = sorted(map(tuple, session.execute(query).all()), key=repr)
    return rows


async def walk(
    api: Api, steps: list[Step | str], who: dict[str, dict[str, str]], ids: dict[str, Any]
) -> None:
    case_id = ids["case_id"]
    for step in steps:
        if step == "collect":
            await collect_evidence(api, case_id, who["operator_handling"])
            case = await api.client.get(f"/api/cases/{case_id}", headers=who["operator_handling"])
            ids["party_ids"] = [p["id"] for p in case.json()["parties"]]
            continue
        if step == "document":
            await api.documents_made()
            continue
        if step == "sign_other":
            await sign_all(api.client, case_id, api.party_token(OTHER))
            continue
        assert isinstance(step, Step)
        allowed = ALLOWED[WRITE_ROUTES[step.route]]
        before = await api.context.database.read(lambda s: _case_rows(s, case_id))
        for role in (r for r in ROLES if r not in allowed):
            response = await send(api.client, step, who[role], ids)
            assert response.status_code in (403, 404), (step.route, role, response.status_code, response.text)
            after = await api.context.database.read(lambda s: _case_rows(s, case_id))
            assert after == before, f"{step.route}: {role} was refused but changed the case"
        outcomes = {}
        for role in (r for r in ROLES if r in allowed):
            response = await send(api.client, step, who[role], ids)
            assert response.status_code not in (401, 403, 404), (step.route, role, response.text)
            outcomes[role] = response.status_code
            if step.route[1].endswith("/evidence") and response.status_code == 201:
                ids["evidence_id"] = response.json()["id"]
            if step.route[1].endswith("/claim") and response.status_code == 201:
                assert response.json()["insurer_code"] == "CPIC"
                ids["claim_id"] = response.json()["id"]
        went_through = any(200 <= status < 300 for status in outcomes.values())
        assert went_through == step.succeeds, (step.route, outcomes)


async def test_a_queued_case(api: Api) -> None:
    owner = await api.agreed_party(REPORTER)
    response = await api.client.post("/api/calls", json=XIHU, headers=owner)
    assert response.status_code == 201, response.text
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    ids = {"case_id": response.json()["case_id"]}
    await walk(api, QUEUED_WALK, await callers(api, ids["case_id"], owner, operator), ids)


async def test_a_case_from_the_call_to_the_claim(api: Api) -> None:
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    ids = {"case_id": case_id, "claim_id": 0}
    await walk(api, CALL_WALK, await callers(api, case_id, api.party_token(REPORTER), operator), ids)


async def test_a_settlement_only_the_other_party_answers(api: Api) -> None:
    """张伟 proposes a settlement naming 李娜; she is the one who may answer it."""
    body = {
        "location": XIHU,
        "facts": FACTS,
        "parties": {
            "parties": [party_body(REPORTER, "浙A12345"), party_body(OTHER, "浙A54321", "李娜", "456")]
        },
        "shares": [{"position": 1, "responsibility": "none"}, {"position": 2, "responsibility": "full"}],
    }
    response = await api.client.post("/api/settlements", json=body, headers=api.party_token(REPORTER))
    assert response.status_code == 201, response.text
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    who = await callers(api, response.json()["id"], api.party_token(OTHER), operator)
    await walk(api, SETTLEMENT_WALK, who, {"case_id": response.json()["id"]})
