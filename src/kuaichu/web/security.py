"""The edge: security headers on every response, credentials checked before a body is read, and
a read's deferred session check passed before its answer leaves."""

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaichu.db import request_precondition
from kuaichu.errors import DomainError, locale_of
from kuaichu.web.deps import AUTHENTICATED, authenticate


def page_policy(media_servers: Sequence[str] = ()) -> str:
    """The pages load only their own files: no inline script or style, no other origin, never
    in a frame. Video previews and fetched evidence are blob: URLs; the camera is mediastream:.
    The one other origin a page may talk to is a configured media server's (Janus's API, at
    its public URL): only when calls go through one."""
    origins = sorted({_origin(url) for url in media_servers})
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            "media-src 'self' blob: mediastream:",
            " ".join(("connect-src 'self'", *origins)),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# FastAPI's interactive docs load Swagger UI from its CDN with an inline script: they get
# everything but the script policy.
DOCS_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Pure ASGI middleware: CSP, nosniff, Referrer-Policy, no framing; HSTS over TLS (the
    scheme is https when the request came so, or through a trusted proxy that says so)."""

    def __init__(self, app: ASGIApp, media_servers: Sequence[str] = ()) -> None:
        self.app = app
        self.page_policy = page_policy(media_servers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(DOCS_PATHS)
        extra = [
            (b"content-security-policy", (DOCS_POLICY if docs else self.page_policy).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(self)"),
        ]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# API calls anyone may make (logging in); everything else under /api/ needs credentials.
PUBLIC_API = frozenset({"/api/auth/sms-code", "/api/auth/party", "/api/auth/staff", "/api/auth/refresh"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def carries_body(scope: Scope) -> bool:
    """Whether the request says a body follows (HTTP/1.1: a length above 0, or chunks)."""
    headers = Headers(scope=scope)
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")


class CredentialsBeforeBody:
    """Pure ASGI middleware: a request to the API that carries a body is authenticated from
    its headers before a byte of the body is read, so an anonymous 50 MB upload is refused
    at once (401) instead of being received first. The route authenticates again as usual."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith("/api/")
            or scope["path"] in PUBLIC_API
            or not carries_body(scope)
        ):
            await self.app(scope, receive, send)
            return
        context = getattr(scope["app"].state, "context", None)
        if context is not None:
            try:
                principal = await authenticate(Headers(scope=scope), context)
            except DomainError as error:
                response = error.response(locale_of(Headers(scope=scope)))
                # Say the connection ends: the unread body is not drained for nothing.
                response.headers["connection"] = "close"
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})[AUTHENTICATED] = principal
        await self.app(scope, receive, send)


READ_METHODS = frozenset({"GET", "HEAD"})


class PreconditionBeforeAnswer:
    """Pure ASGI middleware: an API request without a body (a read, or a write such as taking
    a case) leaves its staff session's check to the first unit of work it runs
    (kuaichu.db.Precondition, one transaction fewer). This binds the request's precondition
    and, for a route that touched no data, runs it before the answer's first byte: a session
    ended since the token was issued gets 401, never the answer. A write route without a body
    does nothing before its first unit of work (tests/test_staff_sessions.py walks them); one
    with a body was authenticated whole before it (CredentialsBeforeBody)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = getattr(scope["app"].state, "context", None) if "app" in scope else None
        if (
            context is None
            or scope["type"] != "http"
            or scope["method"] not in READ_METHODS | BODY_METHODS
            or carries_body(scope)
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        refused = False

        async def checked_send(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the route's answer, after the 401 that replaced it
            if message["type"] == "http.response.start" and precondition.pending:
                try:
                    await context.database.read_small(precondition.run)
                except DomainError as error:
                    refused = True
                    await error.response(locale_of(Headers(scope=scope)))(scope, receive, send)
                    return
            await send(message)

        with request_precondition() as precondition:
            await self.app(scope, receive, checked_send)
