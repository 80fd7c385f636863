"""GET /api/messages/{locale}: the pages read every word from the catalogue, once per load."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kuaichu.app import create_app
from kuaichu.errors import PROBLEM_JSON
from kuaichu.messages.catalogue import Locale, messages
from kuaichu.settings import Settings


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
