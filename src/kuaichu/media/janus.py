"""Janus's HTTP API (the VideoRoom plugin's room requests) and admin API (stored tokens).

Written on httpx rather than taken from a Janus client on PyPI: janus-client (0.9) imports
aiortc and PyAV at import time, being a media peer itself, and janus-api(-core) brings a
framework of its own (reactivex, Django-style settings); the app needs six JSON requests.
"""

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from kuaichu.settings import JanusNode

VIDEOROOM = "janus.plugin.videoroom"
# VideoRoom error codes (janus_videoroom.c).
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
KEYFRAME_SECONDS = 5
UNAUTHORIZED = 433


class JanusError(Exception):
    """Janus answered, and refused."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnreachable(Exception):
    """No answer from the node (down, or slower than the timeout)."""


@dataclass(frozen=True)
class RoomSpec:
    """A call's room as Janus is told to create it."""

    room: int
    secret: str
    pin: str
    description: str
    rec_dir: str
    publishers: int
    allowed: list[str]


class Janus:
    def __init__(self, node: JanusNode, api_secret: str, admin_secret: str, timeout: float) -> None:
        self.node = node
        self._api_secret = api_secret
        self._admin_secret = admin_secret
        self._timeout = timeout

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8)}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(url, json=body)
        except httpx.HTTPError as error:
            raise JanusUnreachable(f"{self.node.name}: {error!r}") from error
        answer: dict[str, Any] = response.json()
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise JanusError(error.get("code", 0), error.get("reason", ""))
        return answer

    async def _admin(self, request: str, **fields: Any) -> dict[str, Any]:
        return await self._post(
            self.node.admin_url, {"janus": request, "admin_secret": self._admin_secret, **fields}
        )

    async def add_token(self, token: str) -> None:
        """A stored token that opens a Janus session for the VideoRoom plugin alone."""
        await self._admin("add_token", token=token, plugins=[VIDEOROOM])

    async def remove_token(self, token: str) -> None:
        await self._admin("remove_token", token=token)

    async def videoroom(self, body: dict[str, Any]) -> dict[str, Any]:
        """One synchronous VideoRoom request, in a session of its own."""
        secret = {"apisecret": self._api_secret}
        session = await self._post(self.node.api_url, {"janus": "create", **secret})
        session_url = f"{self.node.api_url}/{session['data']['id']}"
        try:
            handle = await self._post(session_url, {"janus": "attach", "plugin": VIDEOROOM, **secret})
            answer = await self._post(
                f"{session_url}/{handle['data']['id']}", {"janus": "message", "body": body, **secret}
            )
        finally:
            await self._post(session_url, {"janus": "destroy", **secret})
        data: dict[str, Any] = answer["plugindata"]["data"]
        if "error_code" in data:
            raise JanusError(data["error_code"], data.get("error", ""))
        return data

    async def create_room(self, spec: RoomSpec) -> None:
        """Create the room, or leave it as it is if it exists (another process made it)."""
        body = {
            "request": "create",
            "admin_key": self._admin_secret,
            "room": spec.room,
            "description": spec.description,
            "secret": spec.secret,
            "pin": spec.pin,
            "is_private": True,
            "permanent": False,
            "publishers": spec.publishers,
            # Only the tokens the app handed out join; a subscription needs a private_id,
            # that is, a participant who joined with a token.
            "allowed": spec.allowed,
            "require_pvtid": True,
            # Every publisher is recorded, and only the room secret (the app) changes that.
            "record": True,
            "rec_dir": spec.rec_dir,
            "lock_record": True,
            "audiocodec": "opus",
            "videocodec": "vp8",
            # A keyframe asked of every publisher now and then: a subscriber whose first one
            # was lost (a busy phone, a lossy link) shows a picture within seconds.
            "fir_freq": KEYFRAME_SECONDS,
        }
        try:
            await self.videoroom(body)
        except JanusError as error:
            if error.code != ROOM_EXISTS:
                raise

    async def allow(self, room: int, secret: str, tokens: list[str]) -> None:
        await self.videoroom(
            {"request": "allowed", "room": room, "secret": secret, "action": "add", "allowed": tokens}
        )

    async def participants(self, room: int) -> list[int]:
        """The feed ids of everyone who joined the room (publishing or not)."""
        data = await self.videoroom({"request": "listparticipants", "room": room})
        return [participant["id"] for participant in data.get("participants", [])]

    async def kick(self, room: int, secret: str, feed: int) -> None:
        """Put a participant out of the room; one already gone is fine."""
        try:
            await self.videoroom({"request": "kick", "room": room, "secret": secret, "id": feed})
        except JanusError as error:
            if error.code != NO_SUCH_FEED:
                raise

    async def destroy_room(self, room: int, secret: str) -> None:
        """Hang everyone up and close the recordings; a room already gone is fine."""
        try:
            await self.videoroom({"request": "destroy", "room": room, "secret": secret})
        except JanusError as error:
            if error.code != NO_SUCH_ROOM:
                raise
