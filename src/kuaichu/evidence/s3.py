"""Evidence on S3-compatible object storage: OSS, COS, Ceph RGW, MinIO, SeaweedFS, AWS S3.

The client is boto3 rather than the minio package: boto3 is the S3 API's reference client,
released several times a week, and the S3-compatible services document and test their
compatibility against it; the minio package is released far less often (7.2.20 is a year old
at the time of writing). Requests are kept to what every S3-compatible service accepts: path-
or virtual-hosted addressing by setting, Content-MD5 on every body (the flexible CRC checksums
boto3 adds by default since 1.36 are refused by several of them), plain multipart upload.

Blobs are content-addressed as in the local store, under the same key layout (ab/cd/abcd…),
so a bucket and a local evidence directory can be compared or synced with any S3 tool.
"""

import base64
import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kuaichu.errors import NotFound, Unavailable
from kuaichu.evidence.storage import (
    ASIDE_NAME,
    SHA256_NAME,
    EvidenceStore,
    Intake,
    ListedBlob,
    SetAside,
    StoredBlob,
    verified,
)
from kuaichu.messages import Text
from kuaichu.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# A multipart upload's part, the least S3 allows: about what one upload holds in memory at once.
PART_BYTES = 5 * 1024 * 1024
_MISSING = frozenset({"NoSuchKey", "NotFound", "404"})
# Where the orphan sweep sets blobs aside: outside the ab/cd/abcd… layout, never listed as blobs.
ASIDE_PREFIX = "aside/"


def _md5(body: bytes) -> str:
    # Integrity on the wire, checked by the service; the SHA-256 name is checked by us.
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


class S3EvidenceStore(EvidenceStore):
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3EvidenceStore":
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.evidence_s3_endpoint,
            region_name=settings.evidence_s3_region,
            aws_access_key_id=settings.evidence_s3_access_key or None,
            aws_secret_access_key=settings.evidence_s3_secret_key or None,
            config=Config(
                s3={"addressing_style": settings.evidence_s3_addressing_style},
                connect_timeout=settings.evidence_s3_timeout_seconds,
                read_timeout=settings.evidence_s3_timeout_seconds,
                retries={"mode": "standard", "total_max_attempts": settings.evidence_s3_attempts},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        return cls(client, settings.evidence_s3_bucket)

    @staticmethod
    def key(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        # The key is the hash, known only once the whole upload has been read: read it to name
        # and check it, then send it. The object appears only when the put or the multipart
        # upload completes, so a failure part way leaves nothing under the name.
        start = source.tell()
        intake = Intake(max_bytes)
        while chunk := source.read(_CHUNK):
            intake.take(chunk)
        blob = intake.blob()
        source.seek(start)
        self.upload(source, blob)
        return blob

    def upload(self, source: BinaryIO, blob: StoredBlob) -> None:
        """Send a blob whose name is already known; refused unless the bytes sent hash to it."""
        with self._answering(Text("EvidenceStore.unavailable_upload")):
            if blob.size <= PART_BYTES:
                self._put_whole(source, blob)
            else:
                self._put_in_parts(source, blob)

    def _put_whole(self, source: BinaryIO, blob: StoredBlob) -> None:
        body = source.read(PART_BYTES + 1)
        _check_sent(hashlib.sha256(body).hexdigest(), blob)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(blob.sha256),
            Body=body,
            ContentMD5=_md5(body),
            ContentType=blob.media_type,
        )

    def _put_in_parts(self, source: BinaryIO, blob: StoredBlob) -> None:
        key = self.key(blob.sha256)
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=blob.media_type
        )["UploadId"]
        try:
            sent = hashlib.sha256()
            parts: list[dict[str, Any]] = []
            while part := source.read(PART_BYTES):
                sent.update(part)
                number = len(parts) + 1
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                    ContentMD5=_md5(part),
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                del part  # before the next one is read: one part in memory at a time
            _check_sent(sent.hexdigest(), blob)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Never completed, the upload is invisible; aborting frees its parts (a store that
            # cannot be reached now is cleaned by the bucket's AbortIncompleteMultipartUpload rule).
            with suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def read_chunks(self, sha256: str) -> Iterator[bytes]:
        with self._answering(Text("EvidenceStore.unavailable")):
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        return verified(self._stream(body), sha256)

    def _stream(self, body: Any) -> Iterator[bytes]:
        try:
            with self._answering(Text("EvidenceStore.unavailable")):
                yield from body.iter_chunks(_CHUNK)
        finally:
            body.close()

    def size_of(self, sha256: str) -> int | None:
        """The stored object's size; None when there is none."""
        try:
            with self._answering(Text("EvidenceStore.unavailable")):
                return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))["ContentLength"]
        except NotFound:
            return None

    def delete(self, sha256: str) -> None:
        with self._answering(Text("EvidenceStore.unavailable")):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))

    def listing(self) -> Iterator[ListedBlob]:
        # S3 lists keys in UTF-8 binary order: the key layout puts them in name order.
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        with self._answering(Text("EvidenceStore.unavailable")):
            for page in pages:
                for entry in page.get("Contents", []):
                    sha256 = entry["Key"].rpartition("/")[2]
                    if SHA256_NAME.fullmatch(sha256) and entry["Key"] == self.key(sha256):
                        yield ListedBlob(sha256, entry["LastModified"])

    def exists(self, sha256: str) -> bool:
        return self.size_of(sha256) is not None

    @staticmethod
    def aside_key(sha256: str) -> str:
        """A place of its own for a set-aside: two sweeps never share one."""
        return f"{ASIDE_PREFIX}{sha256}.{uuid.uuid4().hex}.aside"

    def set_aside(self, sha256: str, cutoff: datetime | None) -> SetAside | None:
        # S3 has no rename, and SeaweedFS ignores If-Unmodified-Since on DeleteObject (If-Match
        # is no help: the same bytes have the same ETag): a put of the same bytes between the
        # HEAD and the DELETE is removed with the old object. The copy kept aside is what puts
        # it back when the sweep, looking again, finds the row; a row that commits later finds
        # the blob gone itself (EvidenceStore.keep).
        try:
            with self._answering(Text("EvidenceStore.unavailable")):
                if cutoff is not None:
                    head = self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
                    if head["LastModified"] >= cutoff:
                        return None
                aside = SetAside(sha256, self.aside_key(sha256))
                self._copy(self.key(sha256), aside.place)
        except NotFound:
            return None
        self.delete(sha256)
        return aside

    def put_back(self, aside: SetAside) -> None:
        self._copy(aside.place, self.key(aside.sha256))
        self.discard(aside)

    def discard(self, aside: SetAside) -> None:
        with self._answering(Text("EvidenceStore.unavailable")):
            self.client.delete_object(Bucket=self.bucket, Key=aside.place)

    def left_aside(self, cutoff: datetime) -> Iterator[SetAside]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=ASIDE_PREFIX)
        with self._answering(Text("EvidenceStore.unavailable")):
            for page in pages:
                for entry in page.get("Contents", []):
                    match = ASIDE_NAME.fullmatch(entry["Key"].removeprefix(ASIDE_PREFIX))
                    if match and entry["LastModified"] < cutoff:
                        yield SetAside(match[1], entry["Key"])

    def _copy(self, source_key: str, key: str) -> None:
        # Server-side, in one request: Settings.evidence_max_bytes keeps evidence within
        # CopyObject's 5 GiB.
        with self._answering(Text("EvidenceStore.unavailable")):
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source_key}
            )

    @contextmanager
    def _answering(self, unavailable: Text) -> Iterator[None]:
        """The store's failures in the catalogue's words: a missing object is NotFound, anything
        else (unreachable, timed out, refused, misconfigured) 503, never a 500."""
        try:
            yield
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(Text("EvidenceStore.missing")) from error
            log.warning("evidence store (bucket %s) refused: %s", self.bucket, error)
            raise Unavailable(unavailable) from error
        except BotoCoreError as error:
            log.warning("evidence store (bucket %s) unreachable: %s", self.bucket, error)
            raise Unavailable(unavailable) from error


def _check_sent(sent_sha256: str, blob: StoredBlob) -> None:
    if sent_sha256 != blob.sha256:
        # The source is a file this process spooled; it cannot change unless something is wrong.
        raise RuntimeError(f"the bytes sent for {blob.sha256} changed while they were read")
