"""Request body size limits, enforced while the body streams in (not after it is buffered)."""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaichu.errors import InvalidInput, TooLarge, locale_of
from kuaichu.messages import Locale, Text


class BodySizeLimit:
    """Pure ASGI middleware: uploads may be as large as the evidence limit, anything else 1 MB."""

    def __init__(self, app: ASGIApp, upload_limit: int, default_limit: int = 1024 * 1024) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"].endswith("/evidence") and scope["method"] == "POST"
        # Multipart framing adds a little around the file itself.
        limit = self.upload_limit + 64 * 1024 if is_upload else self.default_limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit).response(_locale(scope))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> TooLarge:
    # Built only when refusing: an error with its message, for every request, cost more than the check.
    return TooLarge(Text("Problem.body_too_large", megabytes=limit // (1024 * 1024)))


# What a NUL character looks like in a path, a query string, a form or a JSON body.
_NUL_MARKS = (b"\x00", b"%00", b"\\u0000")


class RejectNulCharacters:
    """Pure ASGI middleware: a NUL character in a path, query or text body is refused with 422.

    PostgreSQL cannot store NUL in text, and no field of a traffic case has a use for one;
    refusing it at the edge covers every route, including string path parameters. Uploads
    (multipart) are left alone: files are binary."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("raw_path") or scope["path"].encode()) or _has_nul(scope["query_string"]):
            await _refuse(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        try:
            body, messages = await _read_body(receive)
        except TooLarge as error:  # raised by BodySizeLimit's receive, outside the app's handlers
            await error.response(_locale(scope))(scope, receive, send)
            return
        if _has_nul(body):
            await _refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _has_nul(data: bytes) -> bool:
    lowered = data.lower()
    return any(mark in lowered for mark in _NUL_MARKS)


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body (small: BodySizeLimit runs first), and the messages to hand on."""
    messages = []
    chunks = []
    while True:
        message = await receive()
        messages.append(message)
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks), messages


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = InvalidInput(Text("Problem.nul_character"))
    await refusal.response(_locale(scope))(scope, receive, send)


def _locale(scope: Scope) -> Locale:
    return locale_of(Headers(scope=scope))
