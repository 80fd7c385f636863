import asyncio

from conftest import XIHU, Api


async def test_fifty_concurrent_reports_get_fifty_distinct_case_numbers(api: Api) -> None:
    headers = [await api.agreed_party(f"1380000{i:04d}") for i in range(50)]
    responses = await asyncio.gather(*(api.client.post("/api/calls", json=XIHU, headers=h) for h in headers))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    numbers = sorted(r.json()["number"] for r in responses)
    assert len(set(numbers)) == 50
    assert numbers[0] == "3301062026112500001"
    assert numbers[-1] == "3301062026112500050"
