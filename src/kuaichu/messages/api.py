"""The catalogue for the pages: one locale's every key and text, fetched once per page load.

Anonymous on purpose: the catalogue holds no personal data, and the login page needs it too.
The ETag is the hash of the locale's texts, so a page revalidates and gets 304 until a deploy
changes a word.
"""

import hashlib
import json
from functools import cache

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from kuaichu.errors import NotFound
from kuaichu.messages.catalogue import Locale, messages, text

router = APIRouter(tags=["messages"])

# Revalidated on each load (no-cache), answered 304 while the ETag matches.
CACHE_CONTROL = "public, no-cache"


@cache
def _body_and_etag(locale: Locale) -> tuple[bytes, str]:
    body = json.dumps(messages(locale), ensure_ascii=False, sort_keys=True).encode()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _shipped(locale: str) -> Locale:
    try:
        return Locale(locale)
    except ValueError:
        raise NotFound(text("Messages.unknown_locale", available=", ".join(Locale))) from None


@router.get(
    "/api/messages/{locale}",
    response_model=dict[str, str],
    responses={304: {"description": "The catalogue has not changed (If-None-Match equals the ETag)"}},
    summary="Every interface text of one language (key to text)",
)
async def catalogue(locale: str, if_none_match: str | None = Header(default=None)) -> Response:
    body, etag = _body_and_etag(_shipped(locale))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Content-Language": locale}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSONResponse.media_type, headers=headers)
