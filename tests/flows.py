"""Walk a case through the API to a given point, as the people involved would."""

from dataclasses import dataclass

from conftest import XIHU, Api
from factories import ACCIDENT_DAY, FACTS, demo_party, sign_all, upload_jpeg

from kuaichu.principal import Role
from kuaichu.registries.synthetic import demo_drivers, load

REPORTER = "13800000001"
OTHER = "13900000002"


@dataclass
class WalkedCase:
    id: int
    party_ids: list[int]
    reporter: dict[str, str]
    other: dict[str, str]
    operator: dict[str, str]
    officer: dict[str, str]


NO_CIRCUMSTANCES = {
    "injury": False,
    "vehicles_immovable": False,
    "facts_disputed": False,
    "drink_or_drugs_suspected": False,
    "overload_or_speeding_suspected": False,
    "plate_missing_or_forged": False,
    "party_left_scene": False,
    "deliberate": False,
    "public_facility_damage_unknown_owner": False,
}
# Party 2 ran into party 1 from behind; party 1 did none of the listed acts.
REAR_END_ACTS = {
    "parties": [
        {"position": 1, "acts": [], "impact_point": "车尾"},
        {"position": 2, "acts": ["rear_end"], "impact_point": "车头"},
    ]
}
# The default required stills of a two-vehicle accident: (kind, party position).
REQUIRED_STILLS = [
    ("side_by_side", None),
    ("collision_point", None),
    ("vehicle_overview", 1),
    ("vehicle_overview", 2),
    ("plate", 1),
    ("plate", 2),
]


async def demo_registry(api: Api) -> None:
    """The reference registry knows the demo's named drivers (张伟 and 李娜 pass every check)."""
    await api.context.database.write(lambda s: load(s, demo_drivers(ACCIDENT_DAY)))


async def collect_evidence(
    api: Api, case_id: int, operator: dict[str, str], skip: frozenset[str] = frozenset()
) -> None:
    """What the console does in the call once facts and parties are in: the registry checks,
    the eligibility answers, each party's acts and the required stills. `skip` leaves steps
    out ("checks", "circumstances", "acts", "stills")."""
    client = api.client
    steps = []
    if "checks" not in skip:
        steps.append(await client.post(f"/api/cases/{case_id}/checks", headers=operator))
    if "circumstances" not in skip:
        steps.append(
            await client.put(f"/api/cases/{case_id}/circumstances", json=NO_CIRCUMSTANCES, headers=operator)
        )
    if "acts" not in skip:
        steps.append(
            await client.put(f"/api/cases/{case_id}/liability-facts", json=REAR_END_ACTS, headers=operator)
        )
    if "stills" not in skip:
        for kind, position in REQUIRED_STILLS:
            steps.append(await upload_jpeg(client, operator, case_id, kind, position))
    for response in steps:
        assert response.status_code < 300, response.text


async def taken_case(api: Api) -> tuple[int, dict[str, str]]:
    """A party reports; the operator takes the call (nothing recorded yet): the case and the
    operator's headers."""
    reporter = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    reported = await api.client.post("/api/calls", json=XIHU, headers=reporter)
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["case_id"]
    assert (await api.client.post(f"/api/cases/{case_id}/take", headers=operator)).status_code == 200
    return case_id, operator


async def in_call_case(api: Api, *names: str) -> tuple[int, dict[str, str]]:
    """张伟 reports; the operator takes the call and records the facts and the named parties."""
    await demo_registry(api)
    client = api.client
    reporter = await api.agreed_party(REPORTER)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    reported = await client.post("/api/calls", json=XIHU, headers=reporter)
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["case_id"]
    parties = {"parties": [demo_party(name) for name in names]}
    for response in (
        await client.post(f"/api/cases/{case_id}/take", headers=operator),
        await client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator),
        await client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator),
    ):
        assert response.status_code < 300, response.text
    return case_id, operator


async def collected_case(api: Api) -> tuple[int, dict[str, str]]:
    """张伟 (1) and 李娜 (2), everything the gate asks for, collection complete; nobody signed.
    Returns the case and its operator's headers."""
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    await collect_evidence(api, case_id, operator)
    response = await api.client.post(f"/api/cases/{case_id}/collection-complete", headers=operator)
    assert response.status_code == 200, response.text
    return case_id, operator


OVERRIDE_REASON = "现场条件所限，已与当事人当面核对"


async def evacuated_case(api: Api, skip: frozenset[str] = frozenset()) -> WalkedCase:
    """Report, call, facts, parties (张伟 and 李娜), everything the collection gate asks for
    but the steps in `skip` (whose gaps the operator overrides with a reason), both parties
    sign, collection complete, evacuate."""
    client = api.client
    case_id, operator = await in_call_case(api, "张伟", "李娜")
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    await collect_evidence(api, case_id, operator, skip)
    gate = (await client.get(f"/api/cases/{case_id}/collection", headers=operator)).json()
    keys = [item["key"] for item in gate["missing"] if item["overridable"]]
    body = {"override": {"keys": keys, "reason": OVERRIDE_REASON}} if keys else None
    await sign_all(client, case_id, api.party_token(REPORTER), api.party_token(OTHER))
    steps = [
        await client.post(f"/api/cases/{case_id}/collection-complete", json=body, headers=operator),
        await client.post(f"/api/cases/{case_id}/evacuate", headers=operator),
    ]
    for response in steps:
        assert response.status_code < 300, response.text
    case = (await client.get(f"/api/cases/{case_id}", headers=operator)).json()
    party_ids = [p["id"] for p in case["parties"]]
    return WalkedCase(
        case_id, party_ids, api.party_token(REPORTER), api.party_token(OTHER), operator, officer
    )


def rear_end_decision(case: WalkedCase) -> dict[str, object]:
    """Party 2 ran into party 1 from behind: full responsibility for party 2."""
    return {
        "shares": [
            {"party_id": case.party_ids[0], "responsibility": "none"},
            {"party_id": case.party_ids[1], "responsibility": "full"},
        ],
        "reasoning": "乙车追尾甲车，未保持安全距离",
    }


async def determined_case(api: Api) -> WalkedCase:
    case = await evacuated_case(api)
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert response.status_code == 200, response.text
    await api.documents_made()
    return case
