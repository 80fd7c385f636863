from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kuaichu.auth.turn import ice_servers_for
from kuaichu.cases.schemas import RowId
from kuaichu.errors import NotFound
from kuaichu.media import service
from kuaichu.media.schemas import MediaPassOut
from kuaichu.messages import Text
from kuaichu.web.deps import Context, CurrentUser

router = APIRouter(tags=["media"])

# Debian's libjs-janus-gateway and libjs-webrtc-adapter (janus.js expects the global `adapter`).
BROWSER_LIBRARIES = {
    "janus.js": Path("/usr/share/javascript/janus-gateway/janus.js"),
    "adapter.js": Path("/usr/share/javascript/webrtc-adapter/adapter.js"),
}


@router.post("/api/cases/{case_id}/media-pass", response_model=MediaPassOut)
async def media_pass(case_id: RowId, principal: CurrentUser, context: Context) -> MediaPassOut:
    """This participant's pass to the case's open call on the media server: a token for this
    call alone. 404 when no media server is configured (the call runs browser to browser)."""
    now = context.clock.now()
    ice = ice_servers_for(context.settings, principal, now)
    return await service.admit(context.database, context.settings, principal, case_id, now, ice)


@router.get("/vendor/{name}", include_in_schema=False)
async def browser_library(name: str, context: Context) -> FileResponse:
    """janus.js and its adapter, served only where calls go through Janus."""
    path = BROWSER_LIBRARIES.get(name)
    if path is None or not context.settings.janus_nodes or not path.exists():
        raise NotFound(Text("Media.not_configured"))
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
