"""One WebSocket per page, every message routed through the event bus.

A page never talks to another page directly: what it sends is published on a bus channel,
and what it receives comes from the channels its connection follows. So the party and the
operator may be connected to different server processes (with the Redis bus).

Channels:
    case:{id}                 the case's pushes (outbox): call taken, evacuate, ...
    queue:{jurisdiction}      queue snapshots; a party's connection turns them into its position
    operator:{id}             offers to one operator
    insurer:{code}            invitations into calls, to the insurer's agents' pages
    call:{case}:{party|operator}  signaling (offer/answer/ICE) and call events to one side

Page → server messages: watch {case_id}, join {case_id}, signal {case_id, data}, locale {locale},
ping.

Words on a connection are said in its page's language: the page opens `/ws?ticket=…&locale=…`
(else its handshake's Accept-Language counts; kuaichu.web.locale). An error frame carries the
catalogue key of its detail too, so a page may also say it itself.

An operator's console connection is the operator's heartbeat: while one is open the operator
is present; when the last one closes (uvicorn closes a connection that stops answering its
WebSocket pings, see `kuaichu serve`), the sweep sets them away after half the presence timeout.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from kuaichu.auth.sessions import check_staff_session, redeem_socket_ticket
from kuaichu.auth.turn import ice_servers_for
from kuaichu.bus import Message
from kuaichu.calls import connections, presence, queue
from kuaichu.calls.availability import wait_text
from kuaichu.calls.queue import CallRules, QueueSnapshot
from kuaichu.calls.schemas import ServiceStatusOut
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.schemas import MAX_ROW_ID
from kuaichu.errors import DomainError, InvalidInput, NotAuthenticated
from kuaichu.messages import Locale, Text, negotiate, reader_locale, text
from kuaichu.principal import ACCOUNT_ROLES, Principal, Role
from kuaichu.web.context import AppContext

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 64 * 1024  # an SDP with many candidates stays well below
UNAUTHENTICATED = 4401
UNSUPPORTED_DATA = 1003  # RFC 6455: a binary frame where only text is accepted


def call_channel(case_id: int, side: Role) -> str:
    return f"call:{case_id}:{side.value}"


def insurer_channel(insurer_code: str) -> str:
    return f"insurer:{insurer_code}"


def other_side(role: Role) -> Role:
    return Role.OPERATOR if role is Role.PARTY else Role.PARTY


def error_frame(error: DomainError, locale: Locale) -> dict[str, Any]:
    """A refusal as a page reads it: title and detail in its language, the detail's catalogue key,
    and the error's own fields (a state, a code) as problem+json would give them."""
    detail = error.message
    return {
        **error.extra,
        "type": "error",
        "status": error.status,
        "key": detail.key if isinstance(detail, Text) else None,
        "title": error.title.render(locale),
        "detail": detail.render(locale) if isinstance(detail, Text) else detail,
    }


class PageConnection:
    def __init__(
        self, websocket: WebSocket, context: AppContext, principal: Principal, locale: Locale
    ) -> None:
        self.websocket = websocket
        self.context = context
        self.principal = principal
        self.locale = locale
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._joined: set[int] = set()
        self._send_lock = asyncio.Lock()
        self._queue_version: dict[int, int] = {}
        self._console_open = False

    async def send(self, message: Message) -> None:
        async with self._send_lock:
            await self.websocket.send_json(message)

    async def follow(self, key: str, channel: str, handle: Callable[[Message], Awaitable[None]]) -> None:
        """Forward a bus channel into this page; returns once the subscription is live."""
        if key in self._followers:
            return
        ready = asyncio.Event()

        async def run() -> None:
            async with self.context.bus.subscribe(channel) as subscription:
                ready.set()
                async for message in subscription:
                    await handle(message)

        task = asyncio.create_task(run())
        self._followers[key] = task
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # the subscription failed: raise it here

    async def run(self) -> None:
        try:
            if self.principal.role is Role.OPERATOR:
                await self._console_opened()
                await self.follow("operator", f"operator:{self.principal.id}", self.send)
                await self.follow(
                    "queue", f"queue:{self.principal.jurisdiction_id}", self._queue_changed_for_operator
                )
            if self.principal.role is Role.INSURER_AGENT:
                # Invitations into calls for the agent's insurer (kuaichu.seats).
                await self.follow("insurer", insurer_channel(str(self.principal.insurer_code)), self.send)
            # The page's ICE servers travel here, over the authenticated connection: TURN
            # credentials are time-limited and never handed to an anonymous page.
            ice = ice_servers_for(self.context.settings, self.principal, self.context.clock.now())
            await self.send(
                {
                    "type": "hello",
                    "role": self.principal.role.value,
                    "locale": self.locale.value,
                    "ice_servers": ice,
                }
            )
            while True:
                frame = await self.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                raw = frame.get("text")
                if raw is None:
                    reason = text("Signal.text_only", self.locale)
                    await self.websocket.close(code=UNSUPPORTED_DATA, reason=reason)
                    break
                if not await self._session_holds():
                    await self.websocket.close(code=UNAUTHENTICATED, reason="session ended")
                    break
                try:
                    await self._handle(_parse(raw))
                except DomainError as error:
                    await self.send(error_frame(error, self.locale))
        except WebSocketDisconnect:
            pass
        finally:
            await self._close()

    async def _session_holds(self) -> bool:
        """A staff page's session is checked at every message it sends (the page pings every
        few seconds): deactivation, a role or a password change closes it with 4401."""
        if self.principal.role not in ACCOUNT_ROLES:
            return True
        try:
            await self.context.database.read(lambda s: check_staff_session(s, self.principal))
        except NotAuthenticated:
            return False
        return True

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            await self.send({"type": "pong", "t": message.get("t")})
        elif kind == "locale":
            # The party switched language mid-call: say the rest in it, without a reconnect
            # that would interrupt the call.
            self.locale = negotiate(str(message.get("locale", "")))
            await self.send({"type": "locale", "locale": self.locale.value})
        elif kind == "watch":
            await self._watch(_case_id(message))
        elif kind == "join":
            await self._join(_case_id(message))
        elif kind == "signal":
            case_id = _case_id(message)
            if case_id not in self._joined:
                raise InvalidInput(Text("Signal.join_first"))
            await self.context.bus.publish(
                call_channel(case_id, other_side(self.principal.role)),
                {
                    "type": "signal",
                    "case_id": case_id,
                    "from": self.principal.role.value,
                    "data": message.get("data"),
                },
            )
        else:
            raise InvalidInput(Text("Signal.unknown_type", kind=kind))

    async def _watch(self, case_id: int) -> None:
        """The case's pushes, and while it waits, its live queue position."""
        case = await self.context.database.read(
            lambda s: connections.check_may_watch(s, self.principal, case_id)
        )

        async def case_event(message: Message) -> None:
            await self.send({"type": "case", **message})

        await self.follow(f"case:{case_id}", f"case:{case_id}", case_event)
        if self.principal.role is Role.PARTY:

            async def queue_changed(message: Message) -> None:
                await self._send_position(case_id, QueueSnapshot.from_message(message))

            await self.follow(f"queue:{case_id}", f"queue:{case.jurisdiction_id}", queue_changed)
        # Read the state again now that the pushes are followed: a change committed between the
        # first read and the subscription would otherwise be missed by the page.
        case = await self.context.database.read(
            lambda s: connections.check_may_watch(s, self.principal, case_id)
        )
        if self.principal.role is Role.PARTY and case.state == CaseState.QUEUED:
            rules = CallRules.from_settings(self.context.settings)
            now = self.context.clock.now()
            current = await self.context.database.read(
                lambda s: queue.snapshot(s, case.jurisdiction_id, rules, now)
            )
            await self._send_position(case_id, current)
        await self.send({"type": "watching", "case_id": case_id, "state": case.state})

    async def _send_position(self, case_id: int, current: QueueSnapshot) -> None:
        # Snapshots may arrive out of order from concurrent changes: keep only newer ones.
        if current.version < self._queue_version.get(case_id, -1):
            return
        self._queue_version[case_id] = current.version
        position = current.position_of(case_id)
        if position is None:
            return  # taken or abandoned: the case's own push says which
        wait = current.estimated_wait(position)
        # The snapshot is every waiting page's: its status is said here, to this page.
        service = ServiceStatusOut.model_validate(current.service) if current.service else None
        await self.send(
            {
                "type": "position",
                "case_id": case_id,
                "position": position,
                "estimated_wait_seconds": wait,
                "estimated_wait_text": wait_text(wait, self.locale),
                "service": service.model_dump(mode="json") if service else None,
                "version": current.version,
            }
        )

    async def _queue_changed_for_operator(self, message: Message) -> None:
        await self.send(
            {"type": "queue_changed", "version": message["version"], "length": len(message["order"])}
        )

    async def _join(self, case_id: int) -> None:
        role = self.principal.role
        one_to_one = not self.context.settings.janus_nodes
        await self.context.database.read(
            lambda s: connections.check_may_join(s, self.principal, case_id, one_to_one)
        )
        await self.follow(f"call:{case_id}", call_channel(case_id, role), self.send)
        self._joined.add(case_id)
        now = self.context.clock.now()
        await self.context.database.write(lambda s: connections.mark_connection(s, role, case_id, True, now))
        await self.send({"type": "joined", "case_id": case_id})
        await self.context.bus.publish(
            call_channel(case_id, other_side(role)),
            {"type": "peer", "case_id": case_id, "event": "joined", "role": role.value},
        )

    async def _console_opened(self) -> None:
        now = self.context.clock.now()
        await self.context.database.write(lambda s: presence.console_opened(s, self.principal, now))
        self._console_open = True

    async def _close(self) -> None:
        for task in self._followers.values():
            task.cancel()
        for task in self._followers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        role = self.principal.role
        now = self.context.clock.now()
        if self._console_open and self.principal.id is not None:
            operator_id = self.principal.id
            try:
                await self.context.database.write(lambda s: presence.console_closed(s, operator_id, now))
            except Exception:
                log.exception("could not record a closed console")
        for case_id in self._joined:
            # The grace period starts: the same operator waits for the page to come back.
            try:
                await self.context.database.write(
                    lambda s, c=case_id: connections.mark_connection(s, role, c, False, now)
                )
                await self.context.bus.publish(
                    call_channel(case_id, other_side(role)),
                    {"type": "peer", "case_id": case_id, "event": "left", "role": role.value},
                )
            except Exception:
                log.exception("could not record a dropped call connection")


def _parse(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_CHARS:
        raise InvalidInput(Text("Signal.too_long"))
    try:
        message = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidInput(Text("Signal.not_json")) from None
    if not isinstance(message, dict):
        raise InvalidInput(Text("Signal.not_object"))
    return message


def _case_id(message: dict[str, Any]) -> int:
    case_id = message.get("case_id")
    if not isinstance(case_id, int) or isinstance(case_id, bool) or not 1 <= case_id <= MAX_ROW_ID:
        raise InvalidInput(Text("Signal.bad_case_id"))
    return case_id


async def serve_page(websocket: WebSocket, context: AppContext) -> None:
    """Authenticate by a one-time ticket (`/ws?ticket=`, from POST /api/auth/ws-ticket):
    browsers can't set WebSocket headers, and a token in a URL would end up in logs."""
    locale = reader_locale()  # the page's ?locale=, else its handshake's Accept-Language
    await websocket.accept()
    ticket = websocket.query_params.get("ticket", "")
    now = context.clock.now()
    try:
        if not ticket:
            raise NotAuthenticated(Text("Signal.no_ticket"))
        principal = await context.database.write(lambda s: redeem_socket_ticket(s, ticket, now))
    except NotAuthenticated as error:
        await websocket.close(code=UNAUTHENTICATED, reason="unauthenticated")
        log.info("page connection refused: %s", error.detail)
        return
    await PageConnection(websocket, context, principal, locale).run()
