"""A refusal speaks the reader's language: the page sends its locale as Accept-Language, and
every problem+json title, detail and field name comes from the catalogue in that locale."""

from conftest import XIHU, Api
from factories import party_body

from kuaichu.cases.lifecycle import event_label
from kuaichu.messages import Locale

ENGLISH = {"Accept-Language": "en"}


async def test_an_illegal_step_is_refused_in_english_when_the_page_reads_english(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    english = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator | ENGLISH)
    chinese = await api.client.post(f"/api/cases/{case_id}/evacuate", headers=operator)
    assert english.status_code == chinese.status_code == 409
    assert english.json()["title"] == "Not possible in the current state"
    assert english.json()["detail"] == (
        "The case is “Video call: collecting evidence”: “Parties told to leave the scene” is not possible now"
    )
    assert chinese.json()["title"] == "当前状态不允许此操作"
    assert chinese.json()["detail"] == "案件当前状态为“视频取证中”，不能执行“已通知撤离现场”"


async def test_a_wrong_field_is_named_in_english(api: Api, taken_call: tuple[int, dict[str, str]]) -> None:
    case_id, operator = taken_call
    body = {"parties": [party_body("13800000001", "浙A12345"), party_body("13900000002", "浙A54321", "李")]}
    response = await api.client.put(f"/api/cases/{case_id}/parties", json=body, headers=operator | ENGLISH)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid input"
    assert problem["errors"][0]["field"] == "parties.1.name"
    assert problem["errors"][0]["message"] == "Party 2 Name needs at least 2 characters"
    assert problem["detail"] == "Please check: Party 2 Name needs at least 2 characters"
    assert (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()["parties"] == []


async def test_the_edge_refusals_follow_the_reader_too(api: Api) -> None:
    nul = await api.client.post("/api/auth/sms-code", content=b'{"phone": "1\\u0000"}', headers=ENGLISH)
    assert nul.status_code == 422
    assert nul.json()["detail"].startswith("The request contains an invisible illegal character")
    unknown = await api.client.get("/api/no-such-thing", headers=ENGLISH)
    assert (unknown.status_code, unknown.json()["title"]) == (404, "Not found")
    german = await api.client.get("/api/no-such-thing", headers={"Accept-Language": "de-DE"})
    assert german.json()["title"] == "未找到"


async def test_a_strangers_case_is_refused_and_a_timeline_read_in_the_readers_language(api: Api) -> None:
    reporter = await api.agreed_party("13800000021")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=reporter)).json()["case_id"]
    stranger = await api.agreed_party("13800000022")
    english = await api.client.get(f"/api/cases/{case_id}", headers=stranger | ENGLISH)
    chinese = await api.client.get(f"/api/cases/{case_id}", headers=stranger)
    assert english.status_code == chinese.status_code == 404
    assert english.json()["detail"] == "There is no such case, or you may not see it"
    assert chinese.json()["detail"] == "案件不存在或无权查看"

    timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=reporter | ENGLISH)).json()
    assert [line["label"] for line in timeline] == [event_label(line["kind"], Locale.EN) for line in timeline]
    assert timeline[0]["label"] != event_label(timeline[0]["kind"], Locale.ZH_CN)
