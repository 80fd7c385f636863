import hmac
import time

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaichu.errors import NotAuthenticated, NotFound
from kuaichu.messages import Text
from kuaichu.metrics.service import LATENCY, REQUESTS, exposition, work_snapshot
from kuaichu.web.deps import Context

router = APIRouter(tags=["ops"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, context: Context) -> Response:
    """Prometheus scrape, with `Authorization: Bearer <KUAICHU_METRICS_TOKEN>`; without a
    configured token the endpoint is not served at all."""
    expected = context.settings.metrics_token
    if not expected:
        raise NotFound(Text("Problem.not_found"))
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise NotAuthenticated(Text("Metrics.token_required"))
    snapshot = await context.database.read(work_snapshot)
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts and times requests by route template (never by raw path: ids would explode it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - began)
