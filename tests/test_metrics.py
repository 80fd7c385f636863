import pytest
from conftest import XIHU, Api

from kuaichu.settings import Settings

METRICS_TOKEN = "scrape-token-for-the-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": METRICS_TOKEN})


async def test_metrics_report_cases_by_state_and_requests_by_route(api: Api) -> None:
    reporter = await api.agreed_party("13800000001")
    await api.client.post("/api/calls", json=XIHU, headers=reporter)
    await api.client.get("/api/cases/12345", headers=reporter)
    assert (await api.client.get("/metrics")).status_code == 401
    wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    response = await api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    text = response.text
    assert 'kuaichu_cases{jurisdiction="330106",state="queued"} 1.0' in text
    assert 'route="/api/cases/{case_id}",status="404"' in text
    assert "/api/cases/12345" not in text
