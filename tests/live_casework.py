"""A case collected through a live server's API the way issue 8's gate wants it (checks,
eligibility, acts, stills; 乙's plate let through with a reason), for the browser tests of the
back-office pages."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from conftest import STAFF_PASSWORD, XIHU
from factories import JPEG_BYTES, sign_all_live
from live import SECRET, LiveServer, login_code, prepare_database, servers, wait_until

from kuaichu.auth.service import TokenService, party_principal
from kuaichu.clock import SHANGHAI, SystemClock, local
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.db import Database
from kuaichu.registries.synthetic import demo_drivers

ZHANG = "13800000001"  # 甲, who reports
LI_NA = "13900000002"  # 乙, who ran into him
PLATE_COVERED = "乙车号牌被拖车钩遮挡，已人工核对行驶证"
REASONING = "乙车未与前车保持足以采取紧急制动措施的安全距离，追尾甲车"
NO_CIRCUMSTANCES = dict.fromkeys(
    (
        "injury",
        "vehicles_immovable",
        "facts_disputed",
        "drink_or_drugs_suspected",
        "overload_or_speeding_suspected",
        "plate_missing_or_forged",
        "party_left_scene",
        "deliberate",
        "public_facility_damage_unknown_owner",
    ),
    False,
)


@dataclass
class LiveCase:
    id: int
    number: str
    reporter: dict[str, str]


def _party(name: str) -> dict[str, object]:
    person = next(p for p in demo_drivers(local(datetime.now(SHANGHAI)).date()) if p.name == name)
    assert person.policy is not None
    return {
        "name": person.name,
        "phone": person.phone,
        "id_number": person.licence.number,
        "licence_number": person.licence.number,
        "plate_number": person.vehicle.plate_number,
        "plate_type": person.vehicle.plate_type,
        "vehicle_type": person.vehicle.vehicle_type,
        "insurer_code": person.policy.insurer_code,
        "policy_number": person.policy.policy_number,
    }


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/api/auth/staff", json={"username": username, "password": STAFF_PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def party_login(client: httpx.Client, database: Database, phone: str) -> dict[str, str]:
    """The SMS login a phone does; the code is read from the SMS the server wrote."""
    since = SystemClock().now()
    client.post("/api/auth/sms-code", json={"phone": phone}).raise_for_status()
    code = login_code(database, phone, since)
    token = client.post("/api/auth/party", json={"phone": phone, "code": code}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def party_session(phone: str) -> dict[str, str]:
    """A party's SMS login as the live server issues it (its token, signed with the servers'
    secret), for the parties a browser test does not drive."""
    token = TokenService(SECRET, 24, 15).issue(party_principal(phone), SystemClock().now())
    return {"Authorization": f"Bearer {token}"}


def collected_case(client: httpx.Client, reporter: dict[str, str]) -> LiveCase:
    """张伟 (甲, `reporter`) agrees to the recording notice and reports; the operator records
    李娜 (乙) behind him, runs the checks, answers the questions and the acts, takes the stills
    but 乙's plate, and lets it through."""
    operator = login(client, "op-live")
    notice = {"version": PRIVACY_NOTICE_VERSION}
    client.post("/api/consents", json=notice, headers=reporter).raise_for_status()
    case = client.post("/api/calls", json=XIHU, headers=reporter).json()
    assert client.post(f"/api/cases/{case['case_id']}/take", headers=operator).status_code < 300
    collect_and_evacuate(client, operator, case["case_id"])
    return LiveCase(case["case_id"], case["number"], reporter)


def _facts() -> dict[str, str]:
    """乙 ran into 甲 from behind, just now in Xihu."""
    return {
        "occurred_at": datetime.now(SHANGHAI).replace(microsecond=0).isoformat(),
        "address": "西湖区文三路与学院路交叉口",
        "accident_type": "rear_end",
        "weather": "clear",
        "description": "乙车追尾甲车，两车尾部、前部轻微受损",
    }


def settlement(client: httpx.Client, proposer: dict[str, str]) -> LiveCase:
    """李娜 (`proposer`, 甲 here) proposes that she and 张伟 (乙) settle between themselves,
    she bearing all the responsibility; 张伟 is asked by SMS to confirm."""
    body = {
        "location": XIHU,
        "facts": _facts(),
        "parties": {"parties": [_party("李娜"), _party("张伟")]},
        "shares": [{"position": 1, "responsibility": "full"}, {"position": 2, "responsibility": "none"}],
    }
    response = client.post("/api/settlements", json=body, headers=proposer)
    assert response.status_code == 201, response.text
    case = response.json()
    return LiveCase(case["id"], case["number"], proposer)


def collect_and_evacuate(client: httpx.Client, operator: dict[str, str], case_id: int) -> None:
    """The collection of a case the operator has (in the call), each party's signature, then 撤离."""
    collect(client, operator, case_id)
    complete(client, operator, case_id)
    sign_all_live(client, case_id, party_session(ZHANG), party_session(LI_NA))
    client.post(f"/api/cases/{case_id}/evacuate", headers=operator).raise_for_status()


# The stills the operator takes: all the gate asks for but 乙's plate.
STILLS = (
    ("side_by_side", None),
    ("vehicle_overview", 1),
    ("vehicle_overview", 2),
    ("collision_point", None),
    ("plate", 1),
)


def collect(
    client: httpx.Client,
    operator: dict[str, str],
    case_id: int,
    stills: tuple[tuple[str, int | None], ...] = STILLS,
) -> None:
    """What the operator records in the call: the facts, 张伟 (甲) and 李娜 (乙) with their
    registry checks, the eligibility answers, the acts and `stills`."""
    path = f"/api/cases/{case_id}"
    acts = {
        "parties": [
            {"position": 1, "acts": [], "impact_point": "车尾"},
            {"position": 2, "acts": ["rear_end"], "impact_point": "车头"},
        ]
    }
    for response in (
        client.put(f"{path}/facts", json=_facts(), headers=operator),
        client.put(f"{path}/parties", json={"parties": [_party("张伟"), _party("李娜")]}, headers=operator),
        client.post(f"{path}/checks", headers=operator),
        client.put(f"{path}/circumstances", json=NO_CIRCUMSTANCES, headers=operator),
        client.put(f"{path}/liability-facts", json=acts, headers=operator),
        *(
            client.post(
                f"{path}/evidence",
                headers=operator,
                files={"file": ("still.jpg", JPEG_BYTES, "image/jpeg")},
                data={"kind": kind, **({"party_position": str(position)} if position else {})},
            )
            for kind, position in stills
        ),
    ):
        assert response.status_code < 300, response.text


def complete(client: httpx.Client, operator: dict[str, str], case_id: int) -> None:
    """采集完成, 乙's plate (never taken) let through with its reason."""
    override = {"keys": ["still:plate:2"], "reason": PLATE_COVERED}
    response = client.post(
        f"/api/cases/{case_id}/collection-complete", json={"override": override}, headers=operator
    )
    assert response.status_code < 300, response.text


def determine(client: httpx.Client, officer: dict[str, str], case_id: int) -> None:
    """The officer decides as the rules propose for the rear-end: 甲 no responsibility, 乙 all."""
    parties = client.get(f"/api/cases/{case_id}", headers=officer).json()["parties"]
    shares = [
        {"party_id": parties[0]["id"], "responsibility": "none"},
        {"party_id": parties[1]["id"], "responsibility": "full"},
    ]
    body = {"shares": shares, "reasoning": REASONING}
    client.post(f"/api/cases/{case_id}/determination", json=body, headers=officer).raise_for_status()
    issued_document(client, officer, case_id)


def issued_document(client: httpx.Client, viewer: dict[str, str], case_id: int) -> dict[str, str]:
    """The case's document, once the server's document job has signed and stored it (it does
    so just after the determination commits)."""
    url = f"/api/cases/{case_id}/documents"
    return wait_until(lambda: client.get(url, headers=viewer).json(), what="the signed document")[-1]


def determined_case(client: httpx.Client, reporter: dict[str, str]) -> LiveCase:
    """A collected case (see `collected_case`) that officer-live has determined."""
    case = collected_case(client, reporter)
    determine(client, login(client, "officer-live"), case.id)
    return case


@contextmanager
def live_server(tmp_path: Path) -> Iterator[tuple[LiveServer, httpx.Client, Database]]:
    """One server on a fresh SQLite database (demo drivers, op-live, officer-live, reviewer-live)."""
    database_url = f"sqlite:///{tmp_path / 'kuaichu.db'}"
    database = prepare_database(database_url)
    with (
        servers(tmp_path / "data", database_url, 1) as (server,),
        httpx.Client(base_url=server.url) as client,
    ):
        yield server, client, database
    database.dispose()
