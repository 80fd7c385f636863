"""Labels in API answers follow whoever reads them: an English page reads English states,
a Chinese one Chinese."""

from conftest import Api

ENGLISH = {"Accept-Language": "en"}


async def test_a_case_reads_its_state_in_the_readers_language(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    english = (await api.client.get(f"/api/cases/{case_id}", headers=operator | ENGLISH)).json()
    chinese = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    assert english["state"] == chinese["state"] == "in_call"
    assert english["state_label"] == "Video call: collecting evidence"
    assert chinese["state_label"] == "视频取证中"
