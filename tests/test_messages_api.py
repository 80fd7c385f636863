"""GET /api/messages/{locale}: the pages read every word from the catalogue, once per load."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kuaichu.app import create_app
from kuaichu.errors import PROBLEM_JSON
from kuaichu.messages.catalogue import Locale, messages
from kuaichu.settings import Settings
from kuaichu.web.pages import PAGES, render_pages

WEB = Path(__file__).parents[1] / "src" / "kuaichu" / "web"
STATIC = WEB / "static"
TEMPLATES = WEB / "templates"
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
# Literal keys: any quoted `Area.key` (KC.t("Key"), data-i18n="Key", a key kept for later).
KEY_USE = re.compile(r"""["']([A-Z][A-Za-z]*\.[A-Za-z0-9_]+)["']""")
IMPORT = re.compile(r'^import .* from "\./([a-z]+\.js)";$', re.MULTILINE)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # The catalogue needs no database: the app is not even started.
    app = create_app(Settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
        yield client


@pytest.mark.parametrize("locale", list(Locale))
async def test_a_shipped_locale_answers_its_whole_catalogue(
    client: httpx.AsyncClient, locale: Locale
) -> None:
    response = await client.get(f"/api/messages/{locale}")

    assert response.status_code == 200
    assert response.json() == messages(locale)
    assert response.headers["content-language"] == locale
    assert (
        response.json()["CaseState.queued"]
        == {"zh-CN": "排队等待接警", "en": "Waiting for an operator"}[locale]
    )


async def test_a_page_that_has_the_catalogue_is_told_it_has_not_changed(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/messages/en")
    etag = first.headers["etag"]

    again = await client.get("/api/messages/en", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert (await client.get("/api/messages/zh-CN")).headers["etag"] != etag


async def test_an_unknown_locale_is_not_found_in_chinese(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/messages/fr")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == "不支持该语言，可用的语言：zh-CN, en"


# The pages: their templates (the layout and the staff pages' shared parts too) and scripts.
PAGE_SOURCES = sorted(TEMPLATES.glob("*.html")) + sorted(STATIC.glob("*.js"))


@pytest.mark.parametrize("path", PAGE_SOURCES, ids=lambda p: p.name)
def test_no_page_holds_chinese_of_its_own(path: Path) -> None:
    """Every word comes from the catalogue, so an English page has no stray Chinese (and the
    staff pages, Chinese first, read the same catalogue)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    chinese = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if HAN.search(line)]
    assert chinese == []


@pytest.mark.parametrize("page", PAGES)
def test_every_key_a_page_names_is_in_every_locale(page: str) -> None:
    """The page as served (its templates put together) and its scripts name only keys that
    every locale has."""
    scripts = [path.read_text(encoding="utf-8") for path in scripts_of(page)]
    sources = [render_pages()[page].decode(), *scripts]
    keys = {key for source in sources for key in KEY_USE.findall(source)}
    assert f"{page.capitalize()}.title" in keys
    for locale in Locale:
        assert sorted(keys - messages(locale).keys()) == [], locale


def scripts_of(page: str) -> list[Path]:
    """The page's module and every module it imports, however deep."""
    found: list[Path] = []
    waiting = [STATIC / f"{page}.js"]
    while waiting:
        path = waiting.pop()
        if path in found:
            continue
        found.append(path)
        waiting += [STATIC / name for name in IMPORT.findall(path.read_text(encoding="utf-8"))]
    return found
