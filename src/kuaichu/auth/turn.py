"""ICE servers for a logged-in page: STUN as configured, TURN with time-limited credentials.

coturn's REST shared secret (`use-auth-secret`, `static-auth-secret=...`): the username is
"<expiry unix time>:<user>", the credential base64(HMAC-SHA1(secret, username)); coturn
recomputes it and refuses a username whose time has passed."""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from kuaichu.principal import Principal
from kuaichu.settings import Settings

IceServer = dict[str, str | list[str]]


def turn_credential(secret: str, user: str, expires_at: datetime) -> tuple[str, str]:
    username = f"{int(expires_at.timestamp())}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _user_of(principal: Principal) -> str:
    # Not personal data: the role and an opaque id (a party's phone stays out of TURN logs).
    if principal.id is not None:
        return f"{principal.role.value}-{principal.id}"
    digest = hashlib.sha256((principal.phone or "").encode()).hexdigest()[:12]
    return f"{principal.role.value}-{digest}"


def public_ice_servers(settings: Settings) -> list[IceServer]:
    """What an anonymous page may know: the configured servers that carry no credential."""
    return [server for server in settings.ice_servers if "credential" not in server]


def ice_servers_for(settings: Settings, principal: Principal, now: datetime) -> list[IceServer]:
    servers = list(settings.ice_servers)
    if settings.turn_urls and settings.turn_secret:
        expires_at = now + timedelta(seconds=settings.turn_ttl_seconds)
        username, credential = turn_credential(settings.turn_secret, _user_of(principal), expires_at)
        servers.append({"urls": list(settings.turn_urls), "username": username, "credential": credential})
    return servers
