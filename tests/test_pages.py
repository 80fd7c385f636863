"""The pages as served: put together once from the templates (the staff pages share their bar
and login form), revalidated by ETag, each loading one ES module that the CSP allows."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kuaichu.app import create_app
from kuaichu.settings import Settings
from kuaichu.web.pages import PAGES, TEMPLATES

STAFF_PAGES = ("console", "workbench", "review", "supervisor")
MODULE_SCRIPT = re.compile(r'<script type="module" src="(/static/[a-z]+\.js)"></script>')
LOGIN_VIEW = re.compile(r'<section id="login-view".*?</section>', re.DOTALL)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # The pages need no database: the app is not even started.
    app = create_app(Settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
        yield client


@pytest.mark.parametrize("page", PAGES)
async def test_a_page_is_asked_for_again_and_told_it_has_not_changed(
    client: httpx.AsyncClient, page: str
) -> None:
    first = await client.get(f"/{page}")

    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get(f"/{page}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("page", PAGES)
async def test_a_page_loads_its_one_module_from_its_own_origin(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(f"/{page}")

    assert MODULE_SCRIPT.findall(response.text) == [f"/static/{page}.js"]
    assert response.text.count("<script") == 1
    assert "script-src 'self'" in response.headers["content-security-policy"]
    script = await client.get(f"/static/{page}.js")
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"  # never a module of another version
    unchanged = await client.get(f"/static/{page}.js", headers={"If-None-Match": script.headers["etag"]})
    assert unchanged.status_code == 304
    assert re.search(r'^import \{[^}]*\bKC\b[^}]*\} from "\./common\.js";$', script.text, re.MULTILINE)


async def test_every_staff_page_has_the_same_bar_message_line_and_login(client: httpx.AsyncClient) -> None:
    pages = {page: (await client.get(f"/{page}")).text for page in STAFF_PAGES}

    logins = {LOGIN_VIEW.search(html).group(0) for html in pages.values()}  # type: ignore[union-attr]
    # One form; only the heading (which staff logs in) differs.
    assert len({re.sub(r'<h2 data-i18n="[^"]+">', "<h2>", login) for login in logins}) == 1
    for html in pages.values():
        assert html.count('<header class="bar">') == 1
        assert html.count('id="message"') == 1
        assert html.count('id="login-form"') == 1


def test_the_staff_login_form_is_written_once() -> None:
    written = [path.name for path in TEMPLATES.glob("*.html") if 'id="username"' in path.read_text()]
    assert written == ["_staff.html"]
