"""The edge sets whom each request speaks to, so labels and texts follow the reader."""

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from kuaichu.errors import locale_of
from kuaichu.messages import negotiate, reading


class ReaderLocale:
    """Pure ASGI middleware: the request's Accept-Language (pages send their own `<html lang>`)
    becomes the reader's locale for everything said while serving it. A WebSocket cannot set
    headers from a page, so its `?locale=` query wins there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        chosen = QueryParams(scope.get("query_string", b"")).get("locale")
        if scope["type"] == "websocket" and chosen:
            locale = negotiate(chosen)
        else:
            locale = locale_of(Headers(scope=scope))
        with reading(locale):
            await self.app(scope, receive, send)
