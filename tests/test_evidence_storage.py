"""Evidence on a real S3 server (SeaweedFS) and on the local disk: stored by SHA-256, verified
on every read, streamed both ways, durable before it is acknowledged; the object store down
is a 503 in the reader's words and nothing is recorded; `kuaichu evidence migrate`."""

import asyncio
import hashlib
import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import Api
from factories import JPEG_BYTES, upload_jpeg
from fastapi import FastAPI
from flows import taken_case
from s3 import ObjectStore, on_object_store, seaweedfs
from sqlalchemy import select

from kuaichu.app import create_app
from kuaichu.audit.models import AuditEntry
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.errors import NotFound
from kuaichu.evidence.s3 import PART_BYTES, S3EvidenceStore
from kuaichu.evidence.storage import CorruptedBlob, LocalEvidenceStore
from kuaichu.messages import Locale, text
from kuaichu.retention.service import RetentionPolicy, run_retention
from kuaichu.settings import Settings

# The store is what is under test: one database backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 256


@pytest.fixture
def s3_settings(settings: Settings, object_store: ObjectStore, evidence_bucket: str) -> Settings:
    return on_object_store(settings, object_store, evidence_bucket)


@asynccontextmanager
async def _running(settings: Settings, clock: FrozenClock) -> AsyncIterator[Api]:
    app = create_app(settings, clock)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kuaichu.test") as client:
            yield Api(app, client)


@pytest.fixture
async def s3_api(s3_settings: Settings, clock: FrozenClock, database: Database) -> AsyncIterator[Api]:
    async with _running(s3_settings, clock) as api:
        yield api


def _bucket_object(store: ObjectStore, bucket: str, sha256: str) -> bytes:
    return store.client().get_object(Bucket=bucket, Key=S3EvidenceStore.key(sha256))["Body"].read()


def _recording(path: Path, size: int) -> Path:
    """An MP4 of `size` bytes (a real header, random content), written in pieces."""
    with path.open("wb") as out:
        out.write(MP4_HEAD)
        written = len(MP4_HEAD)
        while written < size:
            piece = os.urandom(min(1024 * 1024, size - written))
            out.write(piece)
            written += len(piece)
    return path


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


async def _download(app: FastAPI, path: str, headers: dict[str, str]) -> tuple[int, str, int]:
    """GET through the app itself, each body chunk hashed and dropped as it arrives (httpx's
    ASGI transport would keep the whole body): (status, sha256, size)."""
    digest, answer = hashlib.sha256(), {"status": 0, "size": 0}
    sent = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            digest.update(message.get("body", b""))
            answer["size"] += len(message.get("body", b""))
            if not message.get("more_body"):
                sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"kuaichu.test")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("kuaichu.test", 80),
    }
    await app(scope, receive, send)
    return answer["status"], digest.hexdigest(), answer["size"]


async def test_evidence_uploaded_through_the_api_is_kept_in_the_bucket_and_served_back_verified(
    s3_api: Api, object_store: ObjectStore, evidence_bucket: str
) -> None:
    case_id, operator = await taken_case(s3_api)
    response = await upload_jpeg(s3_api.client, operator, case_id, kind="plate")
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["sha256"] == hashlib.sha256(JPEG_BYTES).hexdigest()
    assert _bucket_object(object_store, evidence_bucket, item["sha256"]) == JPEG_BYTES
    assert not any(s3_api.context.settings.evidence_dir.rglob(item["sha256"]))
    served = await s3_api.client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
    assert served.status_code == 200
    assert served.content == JPEG_BYTES
    assert served.headers["content-type"] == "image/jpeg"


async def test_a_download_reads_the_object_once_and_checks_it_before_sending(
    s3_api: Api, object_store: ObjectStore, evidence_bucket: str
) -> None:
    """Verifying first must not cost a second transfer from the bucket."""
    case_id, operator = await taken_case(s3_api)
    item = (await upload_jpeg(s3_api.client, operator, case_id)).json()
    reads: list[str] = []
    store = s3_api.context.evidence_store
    assert isinstance(store, S3EvidenceStore)
    store.client.meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: reads.append(params["url_path"])
    )
    served = await s3_api.client.get(f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator)
    assert served.status_code == 200 and served.content == JPEG_BYTES
    assert len(reads) == 1


async def test_an_object_overwritten_in_the_bucket_is_refused_and_recorded(
    s3_api: Api, object_store: ObjectStore, evidence_bucket: str
) -> None:
    case_id, operator = await taken_case(s3_api)
    item = (await upload_jpeg(s3_api.client, operator, case_id)).json()
    object_store.client().put_object(
        Bucket=evidence_bucket,
        Key=S3EvidenceStore.key(item["sha256"]),
        Body=JPEG_BYTES.replace(b"JFIF", b"JFIX"),
    )
    response = await s3_api.client.get(
        f"/api/cases/{case_id}/evidence/{item['id']}/content", headers=operator
    )
    assert response.status_code == 409
    assert "校验失败" in response.json()["detail"]
    actions = await s3_api.context.database.read(
        lambda s: list(s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)))
    )
    assert actions[-1] == "evidence_hash_mismatch"
    # Read straight from the store, the changed bytes end in a clear error, never as evidence.
    with pytest.raises(CorruptedBlob) as refused:
        list(s3_api.context.evidence_store.read_chunks(item["sha256"]))
    assert refused.value.detail == text("EvidenceStore.corrupted")


async def test_a_50_mb_recording_streams_up_and_down_without_being_held_in_memory(
    s3_api: Api, object_store: ObjectStore, evidence_bucket: str, tmp_path: Path
) -> None:
    size = 50 * 1000 * 1000
    recording = _recording(tmp_path / "call.mp4", size)
    case_id, operator = await taken_case(s3_api)
    tracemalloc.start()
    try:
        with recording.open("rb") as source:
            response = await s3_api.client.post(
                f"/api/cases/{case_id}/evidence",
                headers=operator,
                files={"file": ("call.mp4", source, "video/mp4")},
                data={"kind": "recording"},
            )
        upload_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        item = response.json()
        status, served_sha256, served_size = await _download(
            s3_api.app, f"/api/cases/{case_id}/evidence/{item['id']}/content", operator
        )
        download_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 201, response.text
    assert item["sha256"] == _sha256_of(recording)
    assert item["size"] == size
    assert status == 200
    assert (served_sha256, served_size) == (item["sha256"], size)
    # Held at once: a multipart part (5 MiB) on the way up, a 1 MiB chunk on the way down.
    assert upload_peak < size / 4
    assert download_peak < size / 4
    head = object_store.client().head_object(Bucket=evidence_bucket, Key=S3EvidenceStore.key(item["sha256"]))
    assert head["ContentLength"] == size


class _CutOff:
    """A file that reads through once, then fails part way through the next reading (a disk
    error while the upload is being sent)."""

    def __init__(self, file: BinaryIO, fail_after: int) -> None:
        self.file = file
        self.fail_after = fail_after
        self.readings = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int) -> int:
        self.readings += 1
        return self.file.seek(offset)

    def read(self, size: int = -1) -> bytes:
        if self.readings and self.file.tell() >= self.fail_after:
            raise OSError("input/output error")
        return self.file.read(size)


def test_an_upload_that_fails_part_way_leaves_nothing_in_the_bucket(
    s3_settings: Settings, object_store: ObjectStore, evidence_bucket: str, tmp_path: Path
) -> None:
    store = S3EvidenceStore.from_settings(s3_settings)
    recording = _recording(tmp_path / "call.mp4", 3 * PART_BYTES)
    with recording.open("rb") as file, pytest.raises(OSError):
        store.put(_CutOff(file, fail_after=PART_BYTES + 1), 10 * PART_BYTES)  # type: ignore[arg-type]
    sha256 = _sha256_of(recording)
    assert store.size_of(sha256) is None
    with pytest.raises(NotFound):
        store.read_chunks(sha256)
    uploads = object_store.client().list_multipart_uploads(Bucket=evidence_bucket)
    assert uploads.get("Uploads", []) == []


@pytest.fixture
def store_to_stop(tmp_path: Path) -> Iterator[ObjectStore]:
    """An object store of this test's own, so the test may stop it."""
    with seaweedfs(tmp_path / "seaweedfs") as store:
        yield store


async def test_the_object_store_down_is_a_503_in_the_readers_words_and_nothing_is_recorded(
    settings: Settings, clock: FrozenClock, database: Database, store_to_stop: ObjectStore
) -> None:
    bucket = store_to_stop.new_bucket()
    down_fast = {"evidence_s3_attempts": 1, "evidence_s3_timeout_seconds": 2.0}
    configured = on_object_store(settings, store_to_stop, bucket).model_copy(update=down_fast)
    async with _running(configured, clock) as api:
        case_id, operator = await taken_case(api)
        kept = (await upload_jpeg(api.client, operator, case_id)).json()
        store_to_stop.stop()

        refused = await api.client.post(
            f"/api/cases/{case_id}/evidence",
            headers=operator,
            files={"file": ("plate.png", PNG_BYTES, "image/png")},
            data={"kind": "plate"},
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["title"] == "服务暂时不可用"
        assert refused.json()["detail"] == text("EvidenceStore.unavailable_upload")
        listed = (await api.client.get(f"/api/cases/{case_id}/evidence", headers=operator)).json()
        assert [item["id"] for item in listed] == [kept["id"]]
        timeline = (await api.client.get(f"/api/cases/{case_id}/timeline", headers=operator)).json()
        assert [line["kind"] for line in timeline].count("evidence_added") == 1

        english = operator | {"Accept-Language": "en"}
        read = await api.client.get(f"/api/cases/{case_id}/evidence/{kept['id']}/content", headers=english)
        assert read.status_code == 503
        assert read.json()["detail"] == text("EvidenceStore.unavailable", Locale.EN)
        actions = await api.context.database.read(
            lambda s, case_id=case_id: list(
                s.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id))
            )
        )
        assert "evidence_hash_mismatch" not in actions


async def test_in_the_bucket_an_object_no_row_names_is_deleted_once_past_its_grace(
    s3_api: Api, clock: FrozenClock, object_store: ObjectStore, evidence_bucket: str
) -> None:
    """The retention job's sweep on the object store, judged by each object's LastModified."""
    context = s3_api.context
    case_id, operator = await taken_case(s3_api)
    named = (await upload_jpeg(s3_api.client, operator, case_id)).json()["sha256"]
    orphan = context.evidence_store.put(io.BytesIO(JPEG_BYTES + b"died"), 1024).sha256
    written = {blob.sha256: blob.modified_at for blob in context.evidence_store.listing()}
    assert set(written) == {named, orphan}
    policy = RetentionPolicy.from_settings(context.settings)

    clock.set(written[orphan] + policy.orphan_grace - timedelta(minutes=1))
    await run_retention(context.database, context.evidence_store, policy, clock.now())
    assert {blob.sha256 for blob in context.evidence_store.listing()} == {named, orphan}

    clock.advance(timedelta(minutes=2))  # its row never came
    await run_retention(context.database, context.evidence_store, policy, clock.now())
    assert {blob.sha256 for blob in context.evidence_store.listing()} == {named}
    assert _bucket_object(object_store, evidence_bucket, named) == JPEG_BYTES


async def test_a_local_blob_and_its_name_are_on_disk_before_the_upload_is_acknowledged(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    case_id, operator = await taken_case(api)
    monkeypatch.setattr(os, "fsync", fsync)
    response = await upload_jpeg(api.client, operator, case_id)
    monkeypatch.undo()
    assert response.status_code == 201
    sha256 = response.json()["sha256"]
    root = api.context.settings.evidence_dir.resolve()
    # The bytes (under their upload name), then the directory entry that names them.
    (written,) = [path for path in synced if path.startswith(str(root / "incoming"))]
    assert synced.index(written) < synced.index(str(root / sha256[:2] / sha256[2:4]))
    stored = root / sha256[:2] / sha256[2:4] / sha256
    assert stored.read_bytes() == JPEG_BYTES


def _kuaichu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kuaichu.cli", *args], env=env, capture_output=True, text=True, check=False
    )


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUAICHU_")}
    return env | {"KUAICHU_DATA_DIR": str(settings.data_dir)}


def _put(store: LocalEvidenceStore, content: bytes) -> str:
    return store.put(io.BytesIO(content), len(content)).sha256


def test_migrate_moves_every_sound_blob_to_the_bucket_and_a_second_run_moves_nothing(
    settings: Settings, object_store: ObjectStore, evidence_bucket: str, tmp_path: Path
) -> None:
    local = LocalEvidenceStore(settings.evidence_dir)
    with _recording(tmp_path / "call.mp4", PART_BYTES + 12345).open("rb") as recording:
        in_parts = local.put(recording, 10 * PART_BYTES).sha256
    sound = [in_parts, _put(local, JPEG_BYTES), _put(local, PNG_BYTES)]
    broken = _put(local, JPEG_BYTES + b"scene 2")
    (settings.evidence_dir / broken[:2] / broken[2:4] / broken).write_bytes(JPEG_BYTES + b"scene 3")
    s3 = object_store.settings_for(evidence_bucket)
    env = _env(settings) | {f"KUAICHU_{name.upper()}": value for name, value in s3.items()}

    first = _kuaichu(env, "evidence", "migrate")
    assert first.returncode == 1, first.stderr
    assert f"{broken}  CORRUPT on disk, not uploaded" in first.stdout
    assert (
        "3 uploaded and verified, 0 already in the bucket, 1 corrupt on disk (not uploaded)" in first.stdout
    )
    bucket = S3EvidenceStore.from_settings(on_object_store(settings, object_store, evidence_bucket))
    assert all(bucket.is_intact(sha256) for sha256 in sound)
    assert bucket.size_of(broken) is None

    second = _kuaichu(env, "evidence", "migrate")
    assert (
        "0 uploaded and verified, 3 already in the bucket, 1 corrupt on disk (not uploaded)" in second.stdout
    )


def test_migrate_without_an_object_store_says_what_to_set(settings: Settings) -> None:
    result = _kuaichu(_env(settings), "evidence", "migrate")
    assert result.returncode == 2
    assert "KUAICHU_EVIDENCE_S3_ENDPOINT" in result.stderr
