"""After the call, the refusals and dates a party reads follow their language: a settlement or
review refused, the day their data is kept until. The Chinese stays word for word as it was."""

from datetime import timedelta
from typing import Any

from conftest import XIHU, Api
from factories import FACTS, party_body
from flows import OTHER, REPORTER, determined_case

from kuaichu.clock import FrozenClock
from kuaichu.reviews.service import close_final_cases

ENGLISH = {"Accept-Language": "en"}


def _settlement() -> dict[str, Any]:
    return {
        "location": XIHU,
        "facts": FACTS,
        "parties": {
            "parties": [party_body(REPORTER, "浙A12345"), party_body(OTHER, "浙A54321", "李娜", "456")]
        },
        "shares": [{"position": 1, "responsibility": "none"}, {"position": 2, "responsibility": "full"}],
    }


async def test_a_stranger_proposing_a_settlement_is_refused_in_their_language(api: Api) -> None:
    stranger = api.party_token("13700000000")
    english = await api.client.post("/api/settlements", json=_settlement(), headers=stranger | ENGLISH)
    chinese = await api.client.post("/api/settlements", json=_settlement(), headers=stranger)
    assert english.status_code == chinese.status_code == 422
    assert english.json()["detail"] == "Only a party to the accident can propose a settlement"
    assert chinese.json()["detail"] == "发起人须是事故一方当事人"
    assert (await api.client.get("/api/cases", headers=stranger)).json() == []


async def test_a_late_review_application_is_refused_in_the_readers_language(
    api: Api, clock: FrozenClock
) -> None:
    case = await determined_case(api)
    clock.advance(timedelta(days=5, hours=14))  # Tuesday 00:00 Shanghai: the period is over
    other = api.party_token(OTHER)
    reasons = {"reasons": "对方突然变道，我方并非追尾"}
    english = await api.client.post(f"/api/cases/{case.id}/review", json=reasons, headers=other | ENGLISH)
    chinese = await api.client.post(f"/api/cases/{case.id}/review", json=reasons, headers=other)
    assert english.status_code == chinese.status_code == 409
    assert (
        english.json()["detail"] == "The period to apply for a review is over (the last day was 2026-11-30)"
    )
    assert chinese.json()["detail"] == "复核申请期限已过（最后一日为2026-11-30）"
    assert (await api.client.get(f"/api/cases/{case.id}", headers=other)).json()["state"] == "determined"


async def test_the_day_data_is_kept_until_is_written_as_the_reader_writes_dates(
    api: Api, clock: FrozenClock
) -> None:
    case = await determined_case(api)
    clock.advance(timedelta(days=6))
    await api.context.database.write(lambda s: close_final_cases(s, clock.now()))  # 2026-12-01
    reporter = api.party_token(REPORTER)
    url = f"/api/cases/{case.id}/retention"
    english = (await api.client.get(url, headers=reporter | ENGLISH)).json()
    chinese = (await api.client.get(url, headers=reporter)).json()
    assert english["kinds"][0]["status_label"] == "Kept until March 1, 2027"
    assert chinese["kinds"][0]["status_label"] == "保存至2027年3月1日"
