"""The pages: HTML put together from Jinja2 templates (one layout; the staff pages share their
bar, login form, case search and case file), with their CSS and JavaScript modules served as
static files. No build step: each page is rendered once, when the app is made, and served as
the same bytes to everyone (its words are filled in the browser from the catalogue)."""

import hashlib
import os
from os import PathLike
from pathlib import Path

from fastapi import FastAPI, Header
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
PAGES = ("party", "console", "workbench", "review", "supervisor", "insurer")
# Pages, scripts and styles change with the code: the browser asks each time, and gets 304 while
# the file is the same (a page never runs with modules of another version).
CACHE_CONTROL = "no-cache"


class RevalidatedFiles(StaticFiles):
    """The static files, revalidated on each use by their ETag."""

    def file_response(
        self,
        full_path: PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response


def render_pages() -> dict[str, bytes]:
    """Each page's HTML by its name (its path: /party, /console...)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return {name: environment.get_template(f"{name}.html").render().encode() for name in PAGES}


def mount_pages(app: FastAPI) -> None:
    app.mount("/static", RevalidatedFiles(directory=STATIC), name="static")

    def page_route(name: str, body: bytes) -> None:
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}

        async def page(if_none_match: str | None = Header(default=None)) -> Response:
            if if_none_match == etag:
                return Response(status_code=304, headers=headers)
            return HTMLResponse(body, headers=headers)

        app.add_api_route(f"/{name}", page, include_in_schema=False)

    for name, body in render_pages().items():
        page_route(name, body)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/party")
