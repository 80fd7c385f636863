from conftest import XIHU, Api


async def test_metrics_report_cases_by_state_and_requests_by_route(api: Api) -> None:
    reporter = api.party_token("13800000001")
    await api.client.post("/api/cases", json=XIHU, headers=reporter)
    await api.client.get("/api/cases/12345", headers=reporter)
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'kuaichu_cases{jurisdiction="330106",state="queued"} 1.0' in text
    assert 'route="/api/cases/{case_id}",status="404"' in text
    assert "/api/cases/12345" not in text
