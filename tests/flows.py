"""Walk a case through the API to a given point, as the people involved would."""

from dataclasses import dataclass

from conftest import XIHU, Api
from factories import FACTS, party_body, upload_jpeg

from kuaichu.auth.principal import Role

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


async def evacuated_case(api: Api, registry_checks: bool = False) -> WalkedCase:
    """Report, call, facts, parties (and, if asked, the registry checks the console runs on
    them), a still, collection complete, evacuate."""
    client = api.client
    reporter = api.party_token(REPORTER)
    other = api.party_token(OTHER)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")
    case_id = (await client.post("/api/cases", json=XIHU, headers=reporter)).json()["id"]
    steps = [
        await client.post(f"/api/cases/{case_id}/take", headers=operator),
        await client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator),
        await client.put(
            f"/api/cases/{case_id}/parties",
            json={
                "parties": [party_body(REPORTER, "浙A12345"), party_body(OTHER, "浙A54321", "李娜", "456")]
            },
            headers=operator,
        ),
    ]
    if registry_checks:
        steps.append(await client.post(f"/api/cases/{case_id}/checks", headers=operator))
    steps += [
        await upload_jpeg(client, operator, case_id),
        await client.post(f"/api/cases/{case_id}/collection-complete", headers=operator),
        await client.post(f"/api/cases/{case_id}/evacuate", headers=operator),
    ]
    for response in steps:
        assert response.status_code < 300, response.text
    party_ids = [p["id"] for p in steps[2].json()["parties"]]
    return WalkedCase(case_id, party_ids, reporter, other, operator, officer)


def rear_end_decision(case: WalkedCase) -> dict[str, object]:
    """Party 2 ran into party 1 from behind: full responsibility for party 2."""
    return {
        "shares": [
            {"party_id": case.party_ids[0], "responsibility": "none"},
            {"party_id": case.party_ids[1], "responsibility": "full"},
        ],
        "reasoning": "追尾",
    }


async def determined_case(api: Api) -> WalkedCase:
    case = await evacuated_case(api)
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert response.status_code == 200, response.text
    return case
