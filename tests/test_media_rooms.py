"""The media server's side that needs no browser: passes when Janus is missing or unreachable,
and the recording job, which waits for a slow Janus and stores each recording once.

The .mjr files are made as Janus writes them (tests/mjr.py); janus-pp-rec and ffmpeg are real.
"""

import hashlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import XIHU, Api
from mjr import write_video_track
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.app import create_app
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.storage import StoredBlob
from kuaichu.geo.models import Jurisdiction
from kuaichu.media import recordings
from kuaichu.media.models import MediaRoom, MediaSeat
from kuaichu.media.service import RecordingJob, StoredFile, claim_ended, seat, store_recording
from kuaichu.principal import Principal, Role
from kuaichu.settings import JanusNode, Settings

requires_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("janus-pp-rec", "ffmpeg")), reason="needs janus-tools and ffmpeg"
)
# Nothing listens on the discard port: every request is refused at once.
UNREACHABLE = JanusNode(
    name="hz-1",
    api_url="http://127.0.0.1:9/janus",
    admin_url="http://127.0.0.1:9/admin",
    public_url="https://media.example/hz-1/janus",
)
GRACE = timedelta(minutes=10)
STARTED_US = 1_795_600_000_000_000


@pytest.fixture
async def media_api(settings: Settings, clock: FrozenClock, database: Database) -> AsyncIterator[Api]:
    """The app with a media server configured that does not answer; the job runs when a test
    says (its period is an hour)."""
    configured = settings.model_copy(
        update={
            "janus_nodes": [UNREACHABLE],
            "janus_api_secret": "api-secret",
            "janus_admin_secret": "admin-secret",
            "janus_sweep_seconds": 3600.0,
            "janus_close_grace_seconds": GRACE.total_seconds(),
        }
    )
    app = create_app(configured, clock)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            yield Api(app, client)


async def call_in_progress(api: Api) -> tuple[int, dict[str, str], dict[str, str]]:
    """A party reported by video call and the Xihu operator took it: the case id, the party's
    and the operator's headers."""
    party = await api.agreed_party("13800000001")
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    case_id = (await api.client.post("/api/calls", json=XIHU, headers=party)).json()["case_id"]
    taken = await api.client.post("/api/calls/take-next", headers=operator)
    assert taken.json()["case_id"] == case_id, taken.text
    return case_id, party, operator


async def end_call(api: Api, case_id: int, operator: dict[str, str]) -> None:
    body = {"reason": "需转现场处置"}
    assert (await api.client.post(f"/api/cases/{case_id}/transfer", json=body, headers=operator)).is_success
    assert (await api.client.post(f"/api/calls/{case_id}/hangup", headers=operator)).is_success


async def party_seat(api: Api, case_id: int, party: dict[str, str]) -> tuple[MediaRoom, MediaSeat]:
    """The party asks for a pass: Janus does not answer, but the seat is written."""
    response = await api.client.post(f"/api/cases/{case_id}/media-pass", headers=party)
    assert response.status_code == 503, response.text

    def read(session: Session) -> tuple[MediaRoom, MediaSeat]:
        room = session.scalars(select(MediaRoom).where(MediaRoom.case_id == case_id)).one()
        seat = session.scalars(select(MediaSeat).where(MediaSeat.room_id == room.id)).one()
        return room, seat

    return await api.context.database.read(read)


def track_name(room: MediaRoom, seat: MediaSeat) -> str:
    return f"videoroom-{room.room}-user-{seat.feed_id}-{STARTED_US}-video-1.mjr"


def record(room: MediaRoom, seat: MediaSeat, seconds: float) -> Path:
    """What Janus left in the room's folder for the seat's publishing."""
    folder = Path(room.rec_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_video_track(folder / track_name(room, seat), seconds, STARTED_US)
    return folder


async def recordings_of(api: Api, case_id: int, operator: dict[str, str]) -> list[dict[str, Any]]:
    listed = (await api.client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json()
    return [item for item in listed if item["kind"] == "recording"]


def job(api: Api) -> RecordingJob:
    context = api.context
    return RecordingJob(context.database, context.clock, context.evidence_store, context.settings)


async def test_without_a_media_server_calls_stay_browser_to_browser(api: Api) -> None:
    case_id, party, _ = await call_in_progress(api)
    response = await api.client.post(f"/api/cases/{case_id}/media-pass", headers=party)
    assert response.status_code == 404
    assert response.json()["detail"] == "未配置媒体服务器，通话在双方浏览器之间直接进行"
    assert (await api.client.get("/vendor/janus.js")).status_code == 404


async def test_an_unreachable_media_server_is_a_clear_refusal_and_the_seat_is_kept(media_api: Api) -> None:
    case_id, party, _ = await call_in_progress(media_api)
    for _ in range(2):
        response = await media_api.client.post(f"/api/cases/{case_id}/media-pass", headers=party)
        assert response.status_code == 503
        assert response.json()["detail"] == "媒体服务器暂时无法接入，请稍后重试"

    def seats(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(MediaSeat)) or 0

    assert await media_api.context.database.read(seats) == 1  # asking again is the same seat
    assert (await media_api.client.get("/vendor/adapter.js")).status_code == 200


async def test_the_pages_call_browser_to_browser_and_reach_no_other_origin_without_a_media_server(
    api: Api,
) -> None:
    assert (await api.client.get("/api/calls/config")).json()["media_server"] is False
    policy = (await api.client.get("/party")).headers["content-security-policy"]
    assert "connect-src 'self';" in policy


async def test_with_a_media_server_the_pages_join_it_and_may_reach_its_public_origin_alone(
    media_api: Api,
) -> None:
    assert (await media_api.client.get("/api/calls/config")).json()["media_server"] is True
    for page in ("/party", "/console", "/supervisor"):
        policy = (await media_api.client.get(page)).headers["content-security-policy"]
        assert "connect-src 'self' https://media.example;" in policy


async def test_a_room_takes_as_many_publishing_vehicles_as_the_cases_jurisdiction_allows(
    media_api: Api,
) -> None:
    case_id, _, _ = await call_in_progress(media_api)
    context = media_api.context

    def two_vehicles_here(session: Session) -> None:
        session.scalars(select(Jurisdiction).where(Jurisdiction.code == "330106")).one().max_vehicles = 2

    await context.database.write(two_vehicles_here)
    party = Principal(role=Role.PARTY, phone="13800000001")
    now = context.clock.now()
    admission = await context.database.write(lambda s: seat(s, party, case_id, context.settings, now))
    assert admission.spec.publishers == 2 + 2  # the vehicles' parties, the operator, an insurer


@requires_tools
async def test_a_recording_waits_for_an_unreachable_janus_and_is_stored_once(
    media_api: Api, clock: FrozenClock
) -> None:
    case_id, party, operator = await call_in_progress(media_api)
    room, seat = await party_seat(media_api, case_id, party)
    folder = record(room, seat, seconds=3)
    await end_call(media_api, case_id, operator)

    # Janus does not answer: the room may still be recording, so nothing is touched yet.
    assert await job(media_api).run_once() == 0
    assert await recordings_of(media_api, case_id, operator) == []
    assert list(folder.glob("*.mjr"))

    # Past the grace the node is taken as gone: its files are complete as they are.
    clock.advance(GRACE + timedelta(seconds=1))
    assert await job(media_api).run_once() == 1
    [item] = await recordings_of(media_api, case_id, operator)
    assert (item["media_type"], item["uploaded_by"]) == ("video/webm", "system")
    content_path = f"/api/cases/{case_id}/evidence/{item['id']}/content"
    content = await media_api.client.get(content_path, headers=operator)
    assert hashlib.sha256(content.content).hexdigest() == item["sha256"]
    stored = folder.parent / "stored.webm"
    stored.write_bytes(content.content)
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(stored)],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert [s["codec_name"] for s in probe["streams"]] == ["vp8"]
    assert abs(float(probe["format"]["duration"]) - 3) <= 0.6
    assert not folder.exists()  # the .mjr files go once the recording is evidence

    timeline = (await media_api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
    [added] = [e for e in timeline if e["kind"] == "evidence_added"]
    assert added["detail"]["participant_role"] == "party"
    assert added["detail"]["sha256"] == item["sha256"]
    assert set(added["detail"]["tracks"]) == {track_name(room, seat)}

    assert await job(media_api).run_once() == 0  # nothing left to do
    assert len(await recordings_of(media_api, case_id, operator)) == 1


@requires_tools
async def test_a_run_that_stopped_after_storing_a_recording_does_not_store_it_twice(
    media_api: Api, clock: FrozenClock
) -> None:
    case_id, party, operator = await call_in_progress(media_api)
    room, seat = await party_seat(media_api, case_id, party)
    folder = record(room, seat, seconds=2)
    await end_call(media_api, case_id, operator)
    context = media_api.context
    now = clock.now()

    # A first run stored the recording and stopped before marking the room stored.
    [work] = await context.database.write(lambda s: claim_ended(s, now))
    [recording] = recordings.find(folder)
    converted = recordings.to_webm(recording, folder / "converted")
    with converted.path.open("rb") as source:
        blob: StoredBlob = context.evidence_store.put(source, converted.path.stat().st_size)
    stored = StoredFile(blob, converted.duration_seconds, converted.sources)
    await context.database.write(lambda s: store_recording(s, work, recording, stored, context.settings, now))

    # Its lease runs out; the next run finds the recording stored and finishes the room.
    clock.advance(GRACE + timedelta(seconds=1))
    assert await job(media_api).run_once() == 1

    def items(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(EvidenceItem)) or 0

    assert await context.database.read(items) == 1
    assert [i["sha256"] for i in await recordings_of(media_api, case_id, operator)] == [blob.sha256]
