"""Request body size limits, enforced while the body streams in (not after it is buffered)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaichu.errors import TooLarge, problem


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
            response = problem(413, "内容过大", f"请求内容超过{limit // (1024 * 1024)}MB上限")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(f"请求内容超过{limit // (1024 * 1024)}MB上限")
            return message

        await self.app(scope, counting_receive, send)
