"""A case collected the way issue 8's gate wants it (checks, eligibility, acts, stills), walked
through the API as the operator does, for the back office's tests: the officer, the reviewer,
the supervisor, the document."""

from dataclasses import dataclass

from conftest import XIHU, Api
from factories import FACTS, demo_party, sign_all, upload_jpeg
from flows import REQUIRED_STILLS, collect_evidence, demo_registry

from kuaichu.principal import Role

ZHANG = "13800000001"  # 甲: hit from behind
LI = "13900000002"  # 乙: ran into 甲
# The number 李娜 gives at the roadside; the insurance registry knows her policy under another.
SAID_POLICY = "PDZA202633010609999"
REASONING = "乙车未与前车保持足以采取紧急制动措施的安全距离，追尾甲车"
PLATE_COVERED = "乙车号牌被拖车钩遮挡，已人工核对行驶证"


@dataclass
class CollectedCase:
    id: int
    number: str
    party_ids: list[int]
    zhang: dict[str, str]
    li: dict[str, str]
    operator: dict[str, str]
    officer: dict[str, str]


async def collected_case(api: Api) -> CollectedCase:
    """张伟 (甲) and 李娜 (乙), rear-end; 乙's plate could not be filmed, so the operator lets the
    case through without that still, with a written reason. Left at 'evacuated'."""
    client = api.client
    await demo_registry(api)
    zhang, li = await api.agreed_party(ZHANG), api.party_token(LI)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    reported = (await client.post("/api/calls", json=XIHU, headers=zhang)).json()
    case_id = reported["case_id"]
    li_said = {**demo_party("李娜"), "policy_number": SAID_POLICY}
    parties = {"parties": [demo_party("张伟"), li_said]}
    steps = [
        await client.post(f"/api/cases/{case_id}/take", headers=operator),
        await client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator),
        await client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator),
    ]
    for response in steps:
        assert response.status_code < 300, response.text
    await collect_evidence(api, case_id, operator, skip=frozenset({"stills"}))
    for kind, position in REQUIRED_STILLS:
        if (kind, position) != ("plate", 2):
            assert (await upload_jpeg(client, operator, case_id, kind, position)).status_code == 201
    complete = await client.post(
        f"/api/cases/{case_id}/collection-complete",
        json={"override": {"keys": ["still:plate:2"], "reason": PLATE_COVERED}},
        headers=operator,
    )
    assert complete.status_code == 200, complete.text
    await sign_all(client, case_id, zhang, li)
    evacuate = await client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert evacuate.status_code == 200, evacuate.text
    party_ids = [p["id"] for p in steps[2].json()["parties"]]
    return CollectedCase(case_id, reported["number"], party_ids, zhang, li, operator, officer)


def rear_end(case: CollectedCase, reasoning: str = REASONING) -> dict[str, object]:
    """乙 ran into 甲 from behind: the rules engine's proposal, accepted."""
    return {
        "shares": [
            {"party_id": case.party_ids[0], "responsibility": "none"},
            {"party_id": case.party_ids[1], "responsibility": "full"},
        ],
        "reasoning": reasoning,
    }


async def determined(api: Api) -> CollectedCase:
    case = await collected_case(api)
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end(case), headers=case.officer
    )
    assert response.status_code == 200, response.text
    await api.documents_made()
    return case
