"""The HTTP registry adapter against a real HTTP server: answers, retries, timeouts, the breaker."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pybreaker
import pytest
from conftest import Api
from test_registry_checks import case_in_call
from test_registry_lookup import case_taken, lookups

from kuaichu.registries.adapters import HttpRegistry, RegistryUnavailable
from kuaichu.settings import Settings

LICENCE = {
    "number": "330106198503121236",
    "name": "张伟",
    "classes": "C1",
    "status": "正常",
    "valid_until": "2030-01-01",
}
POLICY = {
    "policy_number": "PDZA202633010600001",
    "insurer_code": "PICC",
    "insurer_name": "中国人民财产保险",
    "plate_number": "浙A12345",
    "plate_type": "02",
    "starts_on": "2026-03-01",
    "ends_on": "2027-02-28",
}


@dataclass
class FakeRegistry:
    """A registry server's behaviour, changed by the test while the server runs."""

    fail_next: int = 0  # answer 500 to this many requests
    always_fail: bool = False
    delay_event: threading.Event | None = None  # hold answers until set (a hung registry)
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def registry_server() -> Iterator[tuple[str, FakeRegistry]]:
    state = FakeRegistry()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            if state.delay_event is not None:
                state.delay_event.wait(5)
            if state.always_fail or state.fail_next > 0:
                state.fail_next -= 1
                self._send(500, {"error": "registry down"})
                return
            url = urlsplit(self.path)
            if url.path == f"/licences/{LICENCE['number']}":
                self._send(200, LICENCE)
            elif url.path == "/policies":
                query = parse_qs(url.query)
                matches = [POLICY] if query.get("plate_number") == [POLICY["plate_number"]] else []
                self._send(200, {"policies": matches})
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: object) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    if state.delay_event is not None:
        state.delay_event.set()
    server.shutdown()
    server.server_close()


def adapter(url: str, **options: object) -> HttpRegistry:
    return HttpRegistry(url, **options)  # type: ignore[arg-type]


def test_records_come_back_and_unknown_ones_are_none(registry_server: tuple[str, FakeRegistry]) -> None:
    url, _ = registry_server
    registry = adapter(url)
    found = registry.licence(LICENCE["number"])
    assert found is not None and found.name == "张伟" and found.valid_until.isoformat() == "2030-01-01"
    assert registry.vehicle("浙A99999", "02") is None
    assert [p.insurer_code for p in registry.policies("浙A12345", "02")] == ["PICC"]
    assert registry.policies("浙A99999", "02") == []
    registry.close()


def test_a_failed_request_is_retried(registry_server: tuple[str, FakeRegistry]) -> None:
    url, state = registry_server
    state.fail_next = 1
    registry = adapter(url, retries=1)
    assert registry.licence(LICENCE["number"]) is not None
    assert len(state.hits) == 2


def test_a_hung_registry_times_out(registry_server: tuple[str, FakeRegistry]) -> None:
    url, state = registry_server
    state.delay_event = threading.Event()
    registry = adapter(url, timeout_seconds=0.2, retries=0)
    with pytest.raises(RegistryUnavailable, match="无响应"):
        registry.licence(LICENCE["number"])


def test_the_breaker_opens_fails_fast_and_closes_after_a_good_trial(
    registry_server: tuple[str, FakeRegistry],
) -> None:
    url, state = registry_server
    state.always_fail = True
    storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=30, state_storage=storage)
    registry = adapter(url, retries=1, breaker=breaker)

    with pytest.raises(RegistryUnavailable, match="无响应或返回异常"):
        registry.licence(LICENCE["number"])
    with pytest.raises(RegistryUnavailable, match="熔断"):  # the failure that opens it
        registry.licence(LICENCE["number"])
    assert len(state.hits) == 4  # each lookup tried twice (one retry), then counted once
    assert breaker.current_state == pybreaker.STATE_OPEN

    # Open: the registry is not asked at all, the answer is immediate.
    with pytest.raises(RegistryUnavailable, match="熔断"):
        registry.licence(LICENCE["number"])
    assert len(state.hits) == 4

    # The cool-down has passed (moved back rather than waited for); the registry recovered.
    storage.opened_at = datetime.now(UTC) - timedelta(seconds=31)
    state.always_fail = False
    assert registry.licence(LICENCE["number"]) is not None
    assert breaker.current_state == pybreaker.STATE_CLOSED
    assert len(state.hits) == 5


@pytest.fixture
def settings(settings: Settings, registry_server: tuple[str, FakeRegistry]) -> Settings:
    url, _ = registry_server
    return settings.model_copy(
        update={"registry_backend": "http", "registry_url": url, "registry_timeout_seconds": 0.5}
    )


async def test_the_console_sees_unavailable_checks_when_the_registry_is_down(
    api: Api, registry_server: tuple[str, FakeRegistry]
) -> None:
    _, state = registry_server
    state.always_fail = True
    case_id, operator = await case_in_call(api, "张伟", "李娜")
    response = await api.client.post(f"/api/cases/{case_id}/checks", headers=operator)
    assert response.status_code == 200, response.text
    outcomes = {c["outcome"] for c in response.json()}
    assert outcomes == {"unavailable"}
    failure = response.json()[0]["failures"][0]
    assert (failure["code"], failure["params"], failure["reason"]) == (
        "registry_unavailable",
        {"cause": "no_answer"},
        "核验服务无响应或返回异常",
    )
    eligibility = (await api.client.get(f"/api/cases/{case_id}/eligibility", headers=operator)).json()
    assert any("核验暂不可用" in note for note in eligibility["notes"])


async def test_the_look_up_goes_through_the_http_registry_and_says_when_it_is_down(
    api: Api,
    registry_server: tuple[str, FakeRegistry],
) -> None:
    _, state = registry_server
    case_id, operator = await case_taken(api, load_demo_drivers=False)
    url = f"/api/cases/{case_id}/registry-lookup"
    response = await api.client.get(
        url, params={"plate_number": "浙A12345", "plate_type": "02"}, headers=operator
    )
    assert response.status_code == 200, response.text
    assert (response.json()["insurer_code"], response.json()["policy_number"]) == (
        "PICC",
        "PDZA202633010600001",
    )

    state.always_fail = True
    response = await api.client.get(url, params={"licence_number": "330106198503121236"}, headers=operator)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "登记信息查询暂时不可用，请手工录入，稍后再核验"
    english = await api.client.get(
        url, params={"licence_number": "330106198503121236"}, headers=operator | {"Accept-Language": "en"}
    )
    assert english.json()["detail"] == (
        "The registry cannot be asked right now: enter the details by hand and run the checks later"
    )
    outcomes = [detail["outcome"] for _, _, detail in await lookups(api)]
    assert outcomes == ["found", "unavailable", "unavailable"]
