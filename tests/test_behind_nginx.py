"""The deployment example for real: nginx with TLS in front of two `kuaichu serve` processes on
PostgreSQL and Redis. The party's phone and the operator's console land on different processes,
and the party's reconnect lands on the other process, yet it is one call throughout."""

import re
from pathlib import Path

import httpx
import pytest
from conftest import requires_chromium, requires_postgres
from live import LiveServer, operator_context_page, party_context_page, prepare_database, servers, wait_until
from nginx import Proxy, nginx_in_front_of, requires_nginx
from playwright.sync_api import Browser, Page
from test_browser_call import other_signs_by_api, run_call

pytestmark = [requires_nginx, requires_postgres, pytest.mark.postgres]
# The party's phone says so in its user agent, which nginx logs with each request.
PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36"


def pin(page: Page, proxy: Proxy, node: int) -> None:
    """The example's debugging pin: this browser's requests go to one process."""
    page.context.add_cookies([{"name": "kuaichu_node", "value": str(node), "url": proxy.url}])


def sockets_by_browser(proxy: Proxy, apps: list[LiveServer]) -> dict[str, list[int]]:
    """Which process (1 or 2) served each WebSocket, per browser, in the order they closed
    (nginx logs a WebSocket when it closes)."""
    nodes = {app.url.removeprefix("http://"): number for number, app in enumerate(apps, start=1)}
    found: dict[str, list[int]] = {"party": [], "console": []}
    for line in proxy.log_lines():
        match = re.search(r'"GET /ws" 101 .* upstream=(\S+) "([^"]*)"', line)
        if match:
            found["party" if "Mobile" in match[2] else "console"].append(nodes[match[1]])
    return found


def test_the_example_serves_https_with_a_websocket_and_the_upload_limit(
    tmp_path: Path, fresh_postgres: str, live_redis: str
) -> None:
    prepare_database(fresh_postgres).dispose()
    with (
        servers(tmp_path / "data", fresh_postgres, 2, live_redis, as_deployed=True) as apps,
        nginx_in_front_of(tmp_path / "nginx", apps) as proxy,
        httpx.Client(base_url=proxy.url, verify=False) as client,
    ):
        page = client.get("/party")
        assert page.status_code == 200
        # The app sees https through the proxy it trusts: it asks browsers to stay on https.
        assert page.headers["strict-transport-security"].startswith("max-age=")
        # A body too large for its route is the app's own refusal, in Chinese, through nginx.
        too_big = client.post(
            "/api/auth/sms-code",
            content=b"x" * (2 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == "application/problem+json"
        assert re.search(r"[\u4e00-\u9fff]", too_big.json()["detail"])


@requires_chromium
def test_a_call_crosses_two_processes_behind_nginx_and_heals_on_the_other(
    browser: Browser, tmp_path: Path, artifacts_dir: Path, fresh_postgres: str, live_redis: str
) -> None:
    database = prepare_database(fresh_postgres)
    data = tmp_path / "data"
    try:
        with (
            servers(
                data, fresh_postgres, 2, live_redis, as_deployed=True, recording_chunk_seconds="2"
            ) as apps,
            nginx_in_front_of(tmp_path / "nginx", apps) as proxy,
        ):
            party = party_context_page(browser, proxy.url, ignore_https_errors=True, user_agent=PHONE)
            console = operator_context_page(browser, proxy.url, ignore_https_errors=True)
            pin(party, proxy, 1)
            pin(console, proxy, 2)
            try:
                run_call(
                    party,
                    console,
                    database,
                    artifacts_dir,
                    "behind-nginx",
                    auto_offer=True,
                    reconnect=True,
                    # 李娜 signs on her phone, straight to one of the app processes.
                    other_signs=lambda: other_signs_by_api(apps[0].url, database),
                    before_drop=lambda phone: pin(phone, proxy, 2),
                )
            except Exception as error:
                for name, page in (("party", party), ("console", console)):
                    error.add_note(f"{name} page message: {page.locator('#message').text_content()!r}")
                raise
            finally:
                party.context.close()
                console.context.close()
            # Both browsers closed: nginx logs each socket once its close has passed through.
            sockets = wait_until(
                lambda: (
                    (found := sockets_by_browser(proxy, apps))["console"]
                    and len(found["party"]) >= 2
                    and found
                ),
                what="the closed sockets in nginx's log",
            )
        assert set(sockets["console"]) == {2}
        assert 1 in sockets["party"] and sockets["party"][-1] == 2
        # The processes' access logs name paths, never a query (the party's position was one).
        requests = [line for app in apps for line in app.log if '"GET /api/' in line]
        assert requests and not [line for line in requests if "?" in line]
    finally:
        database.dispose()
