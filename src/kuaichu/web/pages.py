"""The pages: plain HTML, CSS and JavaScript files served by the app (no build step)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PAGES = {
    "party": "party.html",
    "console": "console.html",
    "workbench": "workbench.html",
    "review": "review.html",
    "supervisor": "supervisor.html",
}


def mount_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page_route(file_name: str) -> None:
        async def page() -> FileResponse:
            # Pages change with the code; the browser must not keep an old one.
            return FileResponse(STATIC / file_name, headers={"Cache-Control": "no-cache"})

        app.add_api_route(f"/{file_name.removesuffix('.html')}", page, include_in_schema=False)

    for file_name in PAGES.values():
        page_route(file_name)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/party")
