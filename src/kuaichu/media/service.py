"""Who gets a seat in which call's room, and what becomes of the room after the call.

Admission: the app decides (the case's party, the operator who took the call, a supervisor
who watches), writes the seat, then tells Janus: the room exists (created on the first seat,
recorded into its own folder), the seat's token is stored in Janus (VideoRoom only) and is on
the room's allowed list. A token is random, one per call and participant.

After the call: a job claims ended calls' rooms under a lease, destroys each room in Janus
(which closes its recordings) and removes its tokens, then converts each publisher's tracks
into one WebM file, stores it content-addressed and adds it to the case's evidence in the
transaction that marks the recording stored. Every step can run again: a crash or a slow
Janus only delays it, and the .mjr files are deleted only after everything is stored.
"""

import asyncio
import contextlib
import logging
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.calls.models import CallSession
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.models import Case
from kuaichu.clock import Clock
from kuaichu.db import Database, upsert_insert
from kuaichu.errors import Conflict, NotFound, Unavailable
from kuaichu.evidence import service as evidence
from kuaichu.evidence.storage import EvidenceStore, StoredBlob
from kuaichu.geo.models import Jurisdiction
from kuaichu.media import recordings
from kuaichu.media.janus import Janus, JanusError, JanusUnreachable, RoomSpec
from kuaichu.media.models import MediaRecording, MediaRoom, MediaSeat
from kuaichu.media.schemas import MediaPassOut
from kuaichu.messages import DEFAULT_LOCALE, Text, text
from kuaichu.principal import Principal, Role
from kuaichu.privacy import phone_key
from kuaichu.seats import service as seats
from kuaichu.settings import Settings

log = logging.getLogger(__name__)

# Janus ids a page's JavaScript holds exactly (Number.MAX_SAFE_INTEGER is 2**53 - 1).
_ID_LIMIT = 2**53 - 1
# Seats besides the vehicles' parties that publish: the operator, an insurer's agent.
_OTHER_PUBLISHERS = 2
LEASE_SECONDS = 300
MAX_BACKOFF_SECONDS = 300


def janus_for(settings: Settings, node: str) -> Janus:
    found = next((candidate for candidate in settings.janus_nodes if candidate.name == node), None)
    if found is None:
        raise JanusUnreachable(f"node {node} is no longer configured")
    timeout = settings.janus_timeout_seconds
    return Janus(found, settings.janus_api_secret, settings.janus_admin_secret, timeout)


def _random_id() -> int:
    return secrets.randbelow(_ID_LIMIT) + 1


# Admission.


@dataclass(frozen=True)
class Admission:
    node: str
    spec: RoomSpec
    token: str
    feed_id: int
    publishes: bool
    display: str


@dataclass(frozen=True)
class _Sitter:
    seat: str
    role: Role
    publishes: bool
    user_id: int | None = None
    phone_key: str | None = None


def _sitter(principal: Principal, settings: Settings) -> _Sitter:
    """Where someone the access table let in sits: a party, the operator and an invited
    insurer's agent (who sees and speaks) publish, a supervisor watches."""
    if principal.role is Role.PARTY and principal.phone:
        key = phone_key(principal.phone, settings.effective_phone_key_secret)
        return _Sitter(f"party:{key}", Role.PARTY, True, phone_key=key)
    publishes = principal.role in (Role.OPERATOR, Role.INSURER_AGENT)
    return _Sitter(f"{principal.role.value}:{principal.id}", principal.role, publishes, user_id=principal.id)


def _open_call(session: Session, case_id: int) -> CallSession:
    call = session.scalars(
        select(CallSession).where(CallSession.case_id == case_id, CallSession.ended_at.is_(None))
    ).first()
    if call is None:
        raise Conflict(Text("Media.no_open_call"))
    return call


def _least_busy_node(session: Session, settings: Settings) -> str:
    open_rooms = dict(
        session.execute(
            select(MediaRoom.node, func.count()).where(MediaRoom.closed_at.is_(None)).group_by(MediaRoom.node)
        ).all()
    )
    return min(settings.janus_nodes, key=lambda node: open_rooms.get(node.name, 0)).name


def _room_of(session: Session, call: CallSession, settings: Settings, now: datetime) -> MediaRoom:
    """The call's room, made on the first seat (another process may make it at the same time)."""
    room_id = _random_id()
    session.execute(
        upsert_insert(session)(MediaRoom)
        .values(
            call_id=call.id,
            case_id=call.case_id,
            node=_least_busy_node(session, settings),
            room=room_id,
            secret=secrets.token_urlsafe(24),
            pin=secrets.token_urlsafe(12),
            rec_dir=str(settings.effective_janus_recordings_dir / f"room-{room_id}"),
            created_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["call_id"])
    )
    return session.scalars(select(MediaRoom).where(MediaRoom.call_id == call.id)).one()


def _seat_in(session: Session, room: MediaRoom, sitter: _Sitter, label: str, now: datetime) -> MediaSeat:
    """The sitter's seat: the same token and feed again when their page asks again."""
    session.execute(
        upsert_insert(session)(MediaSeat)
        .values(
            room_id=room.id,
            seat=sitter.seat,
            role=sitter.role.value,
            user_id=sitter.user_id,
            phone_key=sitter.phone_key,
            label=label[:64],
            publishes=sitter.publishes,
            token=secrets.token_urlsafe(32),
            feed_id=_random_id(),
            issued_at=now,
        )
        .on_conflict_do_nothing(index_elements=["room_id", "seat"])
    )
    return session.scalars(
        select(MediaSeat).where(MediaSeat.room_id == room.id, MediaSeat.seat == sitter.seat)
    ).one()


def seat(
    session: Session, principal: Principal, case_id: int, settings: Settings, now: datetime
) -> Admission:
    """The principal's seat in the case's open call, written before Janus hears of it. Who
    takes part is who may add the case's evidence (the call's recording is evidence): its
    parties, the operator handling the call, a supervisor; and an agent of an insurer invited
    into the call, whose joining is their presence (kuaichu.seats)."""
    case = get_case(session, principal, case_id)
    ensure_may_write(case, principal, WriteRule.CALL_SEAT)
    call = _open_call(session, case.id)
    if not settings.janus_nodes:
        raise NotFound(Text("Media.not_configured"))
    if principal.role is Role.INSURER_AGENT:
        seats.take_seat(session, principal, case, call, now)
    sitter = _sitter(principal, settings)
    room = _room_of(session, call, settings, now)
    taken = _seat_in(session, room, sitter, principal.label or sitter.role.value, now)
    audit.record(
        session,
        principal,
        AuditAction.JOIN_CALL_MEDIA,
        now,
        case.id,
        {"call_id": call.id, "node": room.node, "room": room.room, "publishes": taken.publishes},
    )
    tokens = session.scalars(select(MediaSeat.token).where(MediaSeat.room_id == room.id)).all()
    vehicles = session.get_one(Jurisdiction, case.jurisdiction_id).vehicle_limit(
        settings.quick_handling_max_vehicles
    )
    spec = RoomSpec(
        room=room.room,
        secret=room.secret,
        pin=room.pin,
        description=f"case {case.id} call {call.id}",
        rec_dir=room.rec_dir,
        publishers=vehicles + _OTHER_PUBLISHERS,
        allowed=list(tokens),
    )
    return Admission(room.node, spec, taken.token, taken.feed_id, taken.publishes, taken.label)


async def admit(
    database: Database,
    settings: Settings,
    principal: Principal,
    case_id: int,
    now: datetime,
    ice_servers: list[dict[str, str | list[str]]],
) -> MediaPassOut:
    """The principal's pass to the case's call on the media server."""
    admission = await database.write(lambda s: seat(s, principal, case_id, settings, now))
    try:
        janus = janus_for(settings, admission.node)
        await asyncio.to_thread(Path(admission.spec.rec_dir).mkdir, parents=True, exist_ok=True)
        await janus.create_room(admission.spec)
        await janus.add_token(admission.token)
        await janus.allow(admission.spec.room, admission.spec.secret, [admission.token])
    except (JanusUnreachable, JanusError, OSError) as error:
        log.warning("media server %s refused a seat: %r", admission.node, error)
        raise Unavailable(Text("Media.unavailable")) from error
    return MediaPassOut(
        server=janus.node.public_url,
        room=admission.spec.room,
        pin=admission.spec.pin,
        token=admission.token,
        feed_id=admission.feed_id,
        publish=admission.publishes,
        display=admission.display,
        ice_servers=ice_servers,
    )


# During the call: only the seats' feeds sit in the room.


@dataclass(frozen=True)
class OpenRoomView:
    """A room whose call goes on, with the feed ids its seats were given."""

    id: int
    case_id: int
    call_id: int
    node: str
    room: int
    secret: str
    feeds: frozenset[int]


def open_rooms(session: Session) -> list[OpenRoomView]:
    rows = session.execute(
        select(MediaRoom)
        .join(CallSession, CallSession.id == MediaRoom.call_id)
        .where(MediaRoom.closed_at.is_(None), CallSession.ended_at.is_(None))
        .order_by(MediaRoom.id)
    ).scalars()
    return [
        OpenRoomView(
            id=room.id,
            case_id=room.case_id,
            call_id=room.call_id,
            node=room.node,
            room=room.room,
            secret=room.secret,
            feeds=frozenset(session.scalars(select(MediaSeat.feed_id).where(MediaSeat.room_id == room.id))),
        )
        for room in rows
    ]


def record_kick(session: Session, room: OpenRoomView, feed: int, now: datetime) -> None:
    label = text("Media.recorder", DEFAULT_LOCALE, node=room.node)
    audit.record(
        session,
        Principal(role=Role.SYSTEM, label=label[:64]),
        AuditAction.KICK_CALL_MEDIA,
        now,
        room.case_id,
        {"call_id": room.call_id, "node": room.node, "room": room.room, "feed_id": feed},
    )


# After the call.


@dataclass(frozen=True)
class SeatView:
    id: int
    role: str
    user_id: int | None
    phone_key: str | None
    token: str


@dataclass(frozen=True)
class RoomWork:
    """A room whose call ended, as claimed for one run of the job."""

    id: int
    case_id: int
    call_id: int
    node: str
    room: int
    secret: str
    rec_dir: Path
    call_ended_at: datetime
    closed: bool
    seats: dict[int, SeatView]  # by feed id
    stored_sources: frozenset[str] = field(default_factory=frozenset)


def claim_ended(session: Session, now: datetime, limit: int = 10) -> list[RoomWork]:
    """Rooms whose call ended and whose recordings are not all stored, leased to this run."""
    rows = session.execute(
        select(MediaRoom, CallSession.ended_at)
        .join(CallSession, CallSession.id == MediaRoom.call_id)
        .where(
            MediaRoom.stored_at.is_(None),
            CallSession.ended_at.is_not(None),
            (MediaRoom.lease_until.is_(None)) | (MediaRoom.lease_until <= now),
        )
        .order_by(MediaRoom.id)
        .limit(limit)
        .with_for_update(of=MediaRoom, skip_locked=True)
    ).all()
    claimed = []
    for room, ended_at in rows:
        room.lease_until = now + timedelta(seconds=LEASE_SECONDS)
        seats = session.scalars(select(MediaSeat).where(MediaSeat.room_id == room.id)).all()
        stored = session.scalars(select(MediaRecording.source).where(MediaRecording.room_id == room.id))
        claimed.append(
            RoomWork(
                id=room.id,
                case_id=room.case_id,
                call_id=room.call_id,
                node=room.node,
                room=room.room,
                secret=room.secret,
                rec_dir=Path(room.rec_dir),
                call_ended_at=ended_at,
                closed=room.closed_at is not None,
                seats={s.feed_id: SeatView(s.id, s.role, s.user_id, s.phone_key, s.token) for s in seats},
                stored_sources=frozenset(stored),
            )
        )
    return claimed


def mark_closed(session: Session, room_id: int, now: datetime) -> None:
    session.get_one(MediaRoom, room_id).closed_at = now


def mark_failed(session: Session, room_id: int, error: str, now: datetime) -> None:
    """Try again later, later each time (a slow or restarting Janus gets time)."""
    room = session.get_one(MediaRoom, room_id)
    room.attempts += 1
    room.last_error = error[:255]
    room.lease_until = now + timedelta(seconds=min(2**room.attempts, MAX_BACKOFF_SECONDS))


def mark_stored(session: Session, room_id: int, now: datetime) -> None:
    room = session.get_one(MediaRoom, room_id)
    room.stored_at = now
    room.lease_until = None


def _party_position(session: Session, case_id: int, seat: SeatView, settings: Settings) -> int | None:
    """The vehicle's party the seat's phone is, as the case records its parties now."""
    if seat.phone_key is None:
        return None
    case = session.get_one(Case, case_id)
    secret = settings.effective_phone_key_secret
    for party in case.parties:
        if seat.phone_key in (party.phone_key, phone_key(party.phone, secret)):
            return party.position
    return None


@dataclass(frozen=True)
class StoredFile:
    blob: StoredBlob
    duration_seconds: float
    tracks: dict[str, str]  # the .mjr files' hashes, by name


def store_recording(
    session: Session,
    work: RoomWork,
    recording: recordings.PublisherRecording,
    stored: StoredFile | None,
    settings: Settings,
    now: datetime,
) -> None:
    """One publisher's recording becomes evidence, once; `stored` is None for a recording
    that held no media (nothing to keep, but done)."""
    done = session.scalar(
        select(MediaRecording.id).where(
            MediaRecording.room_id == work.id, MediaRecording.source == recording.source
        )
    )
    if done is not None:
        return  # another run stored it
    seat = work.seats.get(recording.feed_id)
    evidence_id = None
    if stored is not None:
        label = text("Media.recorder", DEFAULT_LOCALE, node=work.node)
        recorder = Principal(role=Role.SYSTEM, label=label[:64])
        item = evidence.add_recording(
            session,
            work.case_id,
            stored.blob,
            recorder,
            now,
            _party_position(session, work.case_id, seat, settings) if seat else None,
            {
                "call_id": work.call_id,
                "node": work.node,
                "room": work.room,
                "feed_id": recording.feed_id,
                "participant_role": seat.role if seat else None,
                "participant_id": seat.user_id if seat else None,
                "started_at": recording.started_at.isoformat(),
                "duration_seconds": round(stored.duration_seconds, 3),
                "tracks": stored.tracks,
            },
        )
        evidence_id = item.id
    session.add(
        MediaRecording(
            room_id=work.id,
            source=recording.source,
            feed_id=recording.feed_id,
            seat_id=seat.id if seat else None,
            evidence_id=evidence_id,
            stored_at=now,
        )
    )


@dataclass
class RecordingJob:
    """The app's periodic job: close ended calls' rooms, store their recordings."""

    database: Database
    clock: Clock
    store: EvidenceStore
    settings: Settings

    async def run_once(self) -> int:
        """Returns how many rooms were finished."""
        await self.put_out_the_unseated()
        now = self.clock.now()
        claimed = await self.database.write(lambda s: claim_ended(s, now))
        finished = 0
        for work in claimed:
            try:
                finished += await self._finish(work)
            except Exception as error:
                log.exception("media room %s: will try again", work.id)
                await self._failed(work.id, repr(error))
        return finished

    async def put_out_the_unseated(self) -> int:
        """The app says who sits in a call: a feed in a room that is no seat's (a token used
        under another id) is kicked, and the kick audited. Returns how many were kicked."""
        rooms = await self.database.read(open_rooms)
        kicked = 0
        for room in rooms:
            try:
                janus = janus_for(self.settings, room.node)
                for feed in set(await janus.participants(room.room)) - room.feeds:
                    await janus.kick(room.room, room.secret, feed)
                    await self.database.write(
                        lambda s, r=room, f=feed: record_kick(s, r, f, self.clock.now())
                    )
                    kicked += 1
            except (JanusUnreachable, JanusError) as error:
                log.warning("media room %s: participants not checked: %r", room.id, error)
        return kicked

    async def _failed(self, room_id: int, error: str) -> None:
        now = self.clock.now()
        await self.database.write(lambda s: mark_failed(s, room_id, error, now))

    async def _finish(self, work: RoomWork) -> bool:
        if not work.closed and not await self._close(work):
            return False
        for recording in recordings.find(work.rec_dir):
            if recording.source not in work.stored_sources:
                await self._store(work, recording)
        await self.database.write(lambda s: mark_stored(s, work.id, self.clock.now()))
        await asyncio.to_thread(lambda: shutil.rmtree(work.rec_dir, ignore_errors=True))
        return True

    async def _close(self, work: RoomWork) -> bool:
        """Destroy the room (which closes its recordings) and end its tokens. A node that stays
        unreachable past the grace is taken as gone: its files are complete as they are."""
        try:
            janus = janus_for(self.settings, work.node)
            await janus.destroy_room(work.room, work.secret)
            for seat in work.seats.values():
                # Removed by an earlier run, or lost when Janus restarted.
                with contextlib.suppress(JanusError):
                    await janus.remove_token(seat.token)
        except JanusUnreachable as error:
            now = self.clock.now()
            if now - work.call_ended_at < timedelta(seconds=self.settings.janus_close_grace_seconds):
                await self._failed(work.id, repr(error))
                return False
            log.warning("media node %s gone since the call ended: room %s stored as is", work.node, work.id)
        await self.database.write(lambda s: mark_closed(s, work.id, self.clock.now()))
        return True

    async def _store(self, work: RoomWork, recording: recordings.PublisherRecording) -> None:
        converted_dir = work.rec_dir / "converted"
        try:
            converted = await asyncio.to_thread(recordings.to_webm, recording, converted_dir)
        except recordings.EmptyRecording:
            await self.database.write(
                lambda s: store_recording(s, work, recording, None, self.settings, self.clock.now())
            )
            return

        def put() -> StoredBlob:
            with converted.path.open("rb") as source:
                return self.store.put(source, converted.path.stat().st_size)

        blob = await asyncio.to_thread(put)
        stored = StoredFile(blob, converted.duration_seconds, converted.sources)
        await self.database.write(
            lambda s: store_recording(s, work, recording, stored, self.settings, self.clock.now())
        )

        def keep() -> None:
            # An orphan sweep may have taken the blob between its put and the row (retention.orphans).
            with converted.path.open("rb") as source:
                self.store.keep(source, blob)

        await asyncio.to_thread(keep)
