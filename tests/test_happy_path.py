"""The whole flow through HTTP, two parties, on SQLite and on PostgreSQL."""

from datetime import datetime

from conftest import XIHU, Api
from factories import FACTS, demo_party, sign_all
from flows import collect_evidence, demo_registry

from kuaichu.clock import SHANGHAI, FrozenClock
from kuaichu.consent.notice import PRIVACY_NOTICE_VERSION
from kuaichu.principal import Role

REPORTER = "13800000001"
OTHER = "13900000002"


async def test_a_rear_end_collision_from_one_tap_to_closed(api: Api, clock: FrozenClock) -> None:
    client = api.client
    reporter = await api.party(REPORTER)
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    officer = await api.staff("officer-xihu", Role.OFFICER, "330106")

    # 1. 当事人报警: having agreed to the recording notice, one tap; the GPS point picks 西湖区
    # and the case joins its queue.
    notice = {"version": PRIVACY_NOTICE_VERSION}
    assert (await client.post("/api/consents", json=notice, headers=reporter)).status_code == 201
    response = await client.post("/api/calls", json=XIHU, headers=reporter)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["state"] == "queued" and case["position"] == 1
    assert case["service"]["jurisdiction_code"] == "330106"
    assert case["number"].startswith("33010620261125")
    case_id = case["case_id"]
    queue = (await client.get("/api/cases?state=queued", headers=operator)).json()
    assert [c["id"] for c in queue] == [case_id]

    # 2. 视频接入 and 3. 信息采集.
    assert (await client.post(f"/api/cases/{case_id}/take", headers=operator)).json()["state"] == "in_call"
    response = await client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator)
    assert response.status_code == 200, response.text
    await demo_registry(api)
    parties = {"parties": [demo_party("张伟"), demo_party("李娜")]}
    response = await client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator)
    assert response.status_code == 200, response.text
    # Nothing leaves the scene unchecked: the registries, eligibility, acts and stills first.
    response = await client.post(f"/api/cases/{case_id}/collection-complete", headers=operator)
    assert response.status_code == 409
    await collect_evidence(api, case_id, operator)
    response = await client.post(f"/api/cases/{case_id}/collection-complete", headers=operator)
    assert response.json()["state"] == "collected"

    # 4. 撤离现场, once both parties have signed the record on their phones: both get the SMS.
    response = await client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert response.status_code == 409
    await sign_all(client, case_id, api.party_token(REPORTER), api.party_token(OTHER))
    response = await client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert response.json()["state"] == "evacuated"
    assert any("请立即撤离现场" in text for text in await api.sms_to(REPORTER))
    assert any("请立即撤离现场" in text for text in await api.sms_to(OTHER))

    # 5. 后台定责: the following vehicle (乙, party 2) bears full responsibility.
    party_ids = [
        p["id"] for p in (await client.get(f"/api/cases/{case_id}", headers=officer)).json()["parties"]
    ]
    decision = {
        "shares": [
            {"party_id": party_ids[0], "responsibility": "none"},
            {"party_id": party_ids[1], "responsibility": "full"},
        ],
        "reasoning": "乙车未与前车保持足以采取紧急制动措施的安全距离",
    }
    response = await client.post(f"/api/cases/{case_id}/determination", json=decision, headers=officer)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "determined"
    await api.documents_made()  # signed after the determination; the SMS carries its number
    determined = (await client.get(f"/api/cases/{case_id}", headers=reporter)).json()
    assert determined["review_deadline"] == "2026-11-30T16:00:00Z"  # Monday midnight, Shanghai
    assert any("已作出认定" in text and "/party" in text for text in await api.sms_to(OTHER))

    # The other party, logged in with its own phone, sees the case and its responsibility.
    other = await api.party(OTHER)
    seen = (await client.get(f"/api/cases/{case_id}", headers=other)).json()
    assert seen["determination"]["shares"][1]["responsibility"] == "full"
    mine, theirs = seen["parties"][1], seen["parties"][0]
    assert mine["id_number"] == parties["parties"][1]["id_number"]
    assert "*" in theirs["id_number"] and "*" in theirs["phone"]

    # 6. 定损理赔 at once; the case stays open while 李娜 may still apply for review (art. 71).
    response = await client.post(f"/api/cases/{case_id}/claim", headers=reporter)
    assert response.status_code == 201, response.text
    assert (await client.get(f"/api/cases/{case_id}", headers=reporter)).json()["state"] == "determined"
    # After the period (Monday 30 Nov, Shanghai) the determination is final: her claim closes it.
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    other = api.party_token(OTHER)
    response = await client.post(f"/api/cases/{case_id}/claim", headers=other)
    assert response.status_code == 201, response.text
    assert (await client.get(f"/api/cases/{case_id}", headers=other)).json()["state"] == "closed"

    # 网办进度: every step is on the timeline, in order, with who did it.
    timeline = (await client.get(f"/api/cases/{case_id}/timeline", headers=other)).json()
    assert [e["kind"] for e in timeline] == [
        "report",
        "take",
        "facts_recorded",
        "parties_recorded",
        "registry_checked",
        "circumstances_recorded",
        "liability_facts_recorded",
        *["evidence_added"] * 6,
        "complete_collection",
        *["party_signed"] * 2,
        "evacuate",
        "determine",
        "document_issued",
        "push_claim",
        "push_claim",
    ]
    assert [e["state"] for e in timeline[-2:]] == ["determined", "closed"]
    assert timeline[1]["actor"] == "接警坐席"
