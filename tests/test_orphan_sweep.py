"""The orphan evidence sweep against uploads that land while it runs, on the local directory and
on a real S3 server (SeaweedFS). Evidence is content-addressed: the same bytes uploaded again
name the very blob the sweep is about to delete, and the row that names it may commit at any
step of the sweep. The interleavings are injected at the moment the blob leaves its name (the
local store's rename, the object store's DeleteObject), never left to timing."""

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import Api
from factories import JPEG_BYTES, upload_jpeg
from flows import taken_case
from s3 import on_object_store
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kuaichu.app import create_app
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.s3 import S3EvidenceStore
from kuaichu.evidence.storage import EvidenceStore, LocalEvidenceStore, StoredBlob
from kuaichu.retention.orphans import delete_orphan_blobs
from kuaichu.retention.service import delete_purged_blobs
from kuaichu.settings import Settings

# However long the waits below, an event ends them: the bound only stops a broken test hanging.
WAIT_SECONDS = 60


@pytest.fixture(params=["local", "s3"])
async def api(
    request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock, database: Database
) -> AsyncIterator[Api]:
    if request.param == "s3":
        settings = on_object_store(
            settings, request.getfixturevalue("object_store"), request.getfixturevalue("evidence_bucket")
        )
    app = create_app(settings, clock)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            yield Api(app, client)


def _left_behind(store: EvidenceStore, content: bytes) -> str:
    """A blob whose request died before its row committed."""
    return store.put(io.BytesIO(content), len(content)).sha256


def _a_day_later(store: EvidenceStore, api: Api) -> tuple[timedelta, datetime]:
    """The grace and a sweep's `now` past it for every blob stored so far, by the store's own
    clock; an upload during the sweep is then no younger than the cutoff either, so only the
    sweep's second look at the rows can keep its blob, never its write time."""
    grace = timedelta(hours=api.context.settings.evidence_orphan_grace_hours)
    written = max(blob.modified_at for blob in store.listing())
    return grace, written + grace + timedelta(minutes=1)


@dataclass
class Race:
    """What each race below starts from: a taken case, two blobs its requests left behind
    before their rows committed (`again`, the photo the operator will upload again; `died`,
    one nobody sends again), and a sweep's grace and `now` past it for both."""

    api: Api
    case_id: int
    operator: dict[str, str]
    again: str
    died: str
    grace: timedelta
    now: datetime

    @property
    def store(self) -> EvidenceStore:
        return self.api.context.evidence_store

    def upload_again(self) -> Coroutine[Any, Any, httpx.Response]:
        """The operator uploads the same photo again: it names `again`."""
        return upload_jpeg(self.api.client, self.operator, self.case_id)

    async def content(self, item: dict[str, Any]) -> bytes:
        """What the operator gets back for an uploaded item."""
        return await _content(self.api, self.operator, self.case_id, item)


@pytest.fixture
async def race(api: Api) -> Race:
    store = api.context.evidence_store
    case_id, operator = await taken_case(api)
    again = _left_behind(store, JPEG_BYTES)
    died = _left_behind(store, JPEG_BYTES + b"died")
    grace, now = _a_day_later(store, api)
    return Race(api, case_id, operator, again, died, grace, now)


def before_it_leaves_its_name(
    store: EvidenceStore, sha256: str, monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]
) -> None:
    """Run `then` (in the sweep's thread) once, just before the store takes the blob off its
    name: the local store's rename, the object store's DeleteObject."""
    fired = threading.Event()

    def once() -> None:
        if not fired.is_set():
            fired.set()
            then()

    if isinstance(store, S3EvidenceStore):

        def before_delete(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key") == store.key(sha256):
                once()

        store.client.meta.events.register("before-parameter-build.s3.DeleteObject", before_delete)
    else:
        assert isinstance(store, LocalEvidenceStore)
        path, real_rename = dict(store.blobs())[sha256], os.rename

        def rename(source: Any, target: Any) -> None:
            if Path(source) == path:
                once()
            real_rename(source, target)

        monkeypatch.setattr(os, "rename", rename)


class PausedAfterItsPut:
    """The next upload stops once its blob is stored, before its row commits, until resumed."""

    def __init__(self, store: EvidenceStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stored, self.resumed = threading.Event(), threading.Event()
        real_put = store.put

        def put(source: Any, max_bytes: int) -> StoredBlob:
            blob = real_put(source, max_bytes)
            if not self.stored.is_set():  # the upload's put; its check after the row goes on
                self.stored.set()
                assert self.resumed.wait(WAIT_SECONDS)
            return blob

        monkeypatch.setattr(store, "put", put)


def _on_loop(loop: asyncio.AbstractEventLoop, request: Coroutine[Any, Any, httpx.Response]) -> Any:
    """A request to the app started from the sweep's thread, on the test's event loop."""
    return asyncio.run_coroutine_threadsafe(request, loop)


async def _content(api: Api, operator: dict[str, str], case_id: int, item: dict[str, Any]) -> bytes:
    response = await api.client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
    assert response.status_code == 200, response.text
    return response.content


def _stored(store: EvidenceStore) -> set[str]:
    return {blob.sha256 for blob in store.listing()}


async def test_a_re_upload_whose_row_commits_before_the_sweep_looks_again_keeps_its_blob(
    api: Api, race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same photo uploaded again, row and all, between the sweep's check (no row, old) and
    its delete: the sweep takes the blob off its name, finds the row and puts the blob back."""
    store = race.store
    loop = asyncio.get_running_loop()
    uploads: list[httpx.Response] = []
    before_it_leaves_its_name(
        store,
        race.again,
        monkeypatch,
        lambda: uploads.append(_on_loop(loop, race.upload_again()).result(WAIT_SECONDS)),
    )

    await delete_orphan_blobs(api.context.database, store, race.grace, race.now)
    [upload] = uploads
    assert upload.status_code == 201 and upload.json()["sha256"] == race.again
    assert await race.content(upload.json()) == JPEG_BYTES
    assert _stored(store) == {race.again}  # the true orphan went
    assert list(store.left_aside(race.now + race.grace)) == []
    assert race.died not in _stored(store)


async def test_a_re_upload_whose_row_commits_after_the_sweep_looked_again_keeps_its_blob(
    api: Api, race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same photo uploaded again: its put lands between the sweep's check and its delete,
    its row commits only once the sweep, finding no row, has removed the blob. The upload finds
    its blob gone after its row committed and stores it again."""
    store = race.store
    loop = asyncio.get_running_loop()
    paused = PausedAfterItsPut(store, monkeypatch)
    uploads: list[Any] = []

    def upload_stored_not_yet_committed() -> None:
        uploads.append(_on_loop(loop, race.upload_again()))
        assert paused.stored.wait(WAIT_SECONDS)

    before_it_leaves_its_name(store, race.again, monkeypatch, upload_stored_not_yet_committed)

    assert await delete_orphan_blobs(api.context.database, store, race.grace, race.now) == 2
    assert _stored(store) == set()  # the sweep saw no row: both went, the re-upload's put too
    paused.resumed.set()  # its row commits now
    upload = await asyncio.wrap_future(uploads[0])
    assert upload.status_code == 201 and upload.json()["sha256"] == race.again
    assert await race.content(upload.json()) == JPEG_BYTES
    assert _stored(store) == {race.again}
    assert race.died not in _stored(store) and list(store.left_aside(race.now + race.grace)) == []


async def test_what_a_sweep_set_aside_and_never_settled_is_put_back_if_named_else_removed(
    api: Api, race: Race
) -> None:
    """A sweep that stopped between taking blobs off their names and looking at the rows again:
    the next run looks for it, puts back the blob a row named meanwhile, removes the other."""
    store, grace, now = race.store, race.grace, race.now
    assert store.set_aside(race.again, now - grace) is not None
    assert store.set_aside(race.died, now - grace) is not None
    upload = (await race.upload_again()).json()  # stored again and named
    store.delete(race.again)  # as if the sweep's delete came after that upload's check

    # The next run, a day on: what was set aside is older than the grace.
    assert await delete_orphan_blobs(api.context.database, store, grace, now + grace) == 1
    assert _stored(store) == {race.again}
    assert await race.content(upload) == JPEG_BYTES
    assert list(store.left_aside(now + 2 * grace)) == []


async def test_a_purged_file_uploaded_again_for_kept_evidence_as_it_goes_keeps_it(
    api: Api, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purged item's file goes, but the same photo uploaded again, its row committing between
    the job's check (no kept item names it) and the delete, keeps it; another purged file goes."""
    store = api.context.evidence_store
    case_id, operator = await taken_case(api)
    purged = [(await upload(api.client, operator, case_id)).json() for upload in (upload_jpeg, _upload_other)]

    def purge(session: Session) -> None:  # what the retention job does once the period is over
        ids = [item["id"] for item in purged]
        session.execute(update(EvidenceItem).where(EvidenceItem.id.in_(ids)).values(purged_at=clock.now()))

    await api.context.database.write(purge)
    loop = asyncio.get_running_loop()
    uploads: list[httpx.Response] = []
    before_it_leaves_its_name(
        store,
        purged[0]["sha256"],
        monkeypatch,
        lambda: uploads.append(
            _on_loop(loop, upload_jpeg(api.client, operator, case_id)).result(WAIT_SECONDS)
        ),
    )

    assert await delete_purged_blobs(api.context.database, store, clock.now()) == 1
    [again] = uploads
    assert again.status_code == 201 and again.json()["sha256"] == purged[0]["sha256"]
    assert await _content(api, operator, case_id, again.json()) == JPEG_BYTES
    assert _stored(store) == {purged[0]["sha256"]}

    def deleted_at(session: Session) -> dict[int, datetime | None]:
        items = session.scalars(select(EvidenceItem).where(EvidenceItem.case_id == case_id))
        return {item.id: item.blob_deleted_at for item in items}

    recorded = await api.context.database.read(deleted_at)
    assert recorded[purged[0]["id"]] is None and recorded[purged[1]["id"]] is not None


async def _upload_other(client: httpx.AsyncClient, headers: dict[str, str], case_id: int) -> httpx.Response:
    return await client.post(
        f"/api/cases/{case_id}/evidence",
        headers=headers,
        files={"file": ("plate.jpg", JPEG_BYTES + b"other", "image/jpeg")},
        data={"kind": "plate"},
    )
