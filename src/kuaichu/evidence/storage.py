"""Content-addressed evidence storage: a blob's name is its SHA-256.

The local directory store is the default; an S3-compatible store (evidence.s3) implements the
same protocol for scale-out. Either one verifies on read: bytes that no longer hash to their
name are never passed on as if they were the evidence.
"""

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import filetype

from kuaichu.errors import Conflict, NotFound, TooLarge, Unavailable, UnsupportedMedia
from kuaichu.messages import Text

ACCEPTED_MEDIA = frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm"})
_CHUNK = 1024 * 1024
# A verified download is held in memory up to this size, on the temporary disk beyond it.
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
SHA256_NAME = re.compile(r"[0-9a-f]{64}")
# A set-aside in a store: the blob's name and a random one (two sweeps never share a place).
ASIDE_NAME = re.compile(r"([0-9a-f]{64})\.([0-9a-f]{32})\.aside")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True)
class ListedBlob:
    """A blob in the store's listing, with when its bytes were last written there."""

    sha256: str
    modified_at: datetime


@dataclass(frozen=True)
class SetAside:
    """A blob an orphan sweep took off its name, and where the store keeps it meanwhile."""

    sha256: str
    place: str


class CorruptedBlob(Conflict):
    """The stored bytes no longer hash to the name they were stored under."""


class EvidenceStore(Protocol):
    def put(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        """Store an upload and return its name once it is durable; `source` is a seekable file
        (the S3 store reads it twice: once to name it, once to send it)."""
        ...

    def read_chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes; the iteration raises CorruptedBlob at its end if they do not hash
        to `sha256`. NotFound when there is no such blob."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove a blob; the caller has made sure no kept evidence names it."""
        ...

    def listing(self) -> Iterator[ListedBlob]:
        """Every stored blob with when it was last written, in name order (an upload under way
        is not listed until it is complete)."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored under this name."""
        ...

    def keep(self, source: BinaryIO, blob: StoredBlob) -> None:
        """Called once the row naming `blob` has committed: store it again if an orphan sweep
        took it off its name before the row was there to see (retention.orphans). `source`
        holds the bytes from its current position. A store that cannot answer now is logged,
        not raised: the row has committed and the blob was stored a moment ago."""
        try:
            if not self.exists(blob.sha256):
                log.warning(
                    "evidence blob %s went in an orphan sweep as its row committed: stored again", blob.sha256
                )
                self.put(source, blob.size)
        except Unavailable:
            log.warning("evidence store: could not check that blob %s is still stored", blob.sha256)

    def set_aside(self, sha256: str, cutoff: datetime | None) -> SetAside | None:
        """Take a blob off its name into a place of its own unless it was written at or after
        `cutoff` (stored again since it was listed, for a row about to name it; None: whenever
        it was written); None when it was not taken (or there was none). The caller has made
        sure no row names it, and settles the set-aside with put_back or discard after looking
        at the rows again."""
        ...

    def put_back(self, aside: SetAside) -> None:
        """Return a set-aside blob to its name (a row came to name it meanwhile)."""
        ...

    def discard(self, aside: SetAside) -> None:
        """Remove a set-aside blob for good."""
        ...

    def left_aside(self, cutoff: datetime) -> Iterator[SetAside]:
        """Blobs set aside before `cutoff` and never settled: their sweep stopped part way."""
        ...

    def remove_abandoned_uploads(self, cutoff: datetime) -> int:
        """Remove what uploads a killed process left part way, untouched since `cutoff`; how
        many. Nothing here for an object store: its incomplete multipart uploads are ended by
        the bucket's AbortIncompleteMultipartUpload rule."""
        return 0

    def is_intact(self, sha256: str) -> bool:
        """Chain of custody: the stored bytes still hash to the name recorded at upload."""
        try:
            for _ in self.read_chunks(sha256):
                pass
        except CorruptedBlob:
            return False
        return True

    def open_verified(self, sha256: str) -> BinaryIO:
        """The blob as a file whose bytes were checked against its name before anything is
        passed on: read once from the store into a spool (memory, then a temporary file).
        CorruptedBlob when they do not match."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 (returned open)
        try:
            for chunk in self.read_chunks(sha256):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool  # type: ignore[return-value]  # a SpooledTemporaryFile is a binary file


def file_chunks(source: BinaryIO) -> Iterator[bytes]:
    """A file's bytes in chunks, closing it at the end (a streamed response's body)."""
    with source:
        while chunk := source.read(_CHUNK):
            yield chunk


def sniff_media_type(head: bytes) -> str:
    """The media type by content, never by file name or the client's claim."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED_MEDIA:
        raise UnsupportedMedia(Text("EvidenceStore.unsupported_media"))
    return kind.mime


class Intake:
    """An upload as it is read: its media type by content, its size within the limit, its hash."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.digest = hashlib.sha256()
        self.size = 0
        self.media_type = ""

    def take(self, chunk: bytes) -> None:
        if not self.media_type:
            self.media_type = sniff_media_type(chunk[:8192])
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise TooLarge(Text("EvidenceStore.too_large", megabytes=self.max_bytes // (1024 * 1024)))
        self.digest.update(chunk)

    def blob(self) -> StoredBlob:
        if self.size == 0:
            raise UnsupportedMedia(Text("EvidenceStore.empty"))
        return StoredBlob(self.digest.hexdigest(), self.size, self.media_type)


def verified(chunks: Iterable[bytes], sha256: str) -> Iterator[bytes]:
    """Pass the chunks on; at the end, CorruptedBlob unless they hashed to `sha256` (a stream
    already under way is then cut off rather than finished as if it were the evidence)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise CorruptedBlob(Text("EvidenceStore.corrupted"))


def fsync_directory(path: Path) -> None:
    """Make the entries of a directory (a file renamed into it, a new subdirectory) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_directories_durably(directory: Path) -> None:
    """mkdir -p, with each new directory's entry fsynced in its parent."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)  # another upload may create it at the same moment
        fsync_directory(path.parent)


class LocalEvidenceStore(EvidenceStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "incoming").mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        intake = Intake(max_bytes)
        fd, temp_name = tempfile.mkstemp(dir=self.root / "incoming")
        try:
            with os.fdopen(fd, "wb") as target:
                while chunk := source.read(_CHUNK):
                    intake.take(chunk)
                    target.write(chunk)
                # Acknowledged means on the disk: the bytes, then the name they get below.
                target.flush()
                os.fsync(target.fileno())
            blob = intake.blob()
            final = self._path(blob.sha256)
            make_directories_durably(final.parent)
            os.replace(temp_name, final)  # same content, same name: a re-upload is harmless
            fsync_directory(final.parent)
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
        return blob

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def listing(self) -> Iterator[ListedBlob]:
        for sha256, path in self.blobs():
            try:
                yield ListedBlob(sha256, _modified_at(path))
            except FileNotFoundError:
                continue  # deleted since the directory was read

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def set_aside(self, sha256: str, cutoff: datetime | None) -> SetAside | None:
        # Moved aside first, then judged by the moved file's time: a put that lands at the same
        # moment either comes before the move (its fresh file is moved, judged fresh and put
        # back: same name, same bytes) or after it (it is at the name, untouched).
        aside = self.root / "incoming" / f"{sha256}.{uuid.uuid4().hex}.aside"
        try:
            os.rename(self._path(sha256), aside)
        except FileNotFoundError:
            return None
        if cutoff is not None and _modified_at(aside) >= cutoff:
            os.replace(aside, self._path(sha256))
            return None
        os.utime(aside)  # from now on its time is when it was set aside (left_aside)
        return SetAside(sha256, str(aside))

    def put_back(self, aside: SetAside) -> None:
        # Over a put that landed since, if any: the same bytes under the same name.
        os.replace(aside.place, self._path(aside.sha256))
        fsync_directory(self._path(aside.sha256).parent)

    def discard(self, aside: SetAside) -> None:
        Path(aside.place).unlink(missing_ok=True)

    def left_aside(self, cutoff: datetime) -> Iterator[SetAside]:
        for path in (self.root / "incoming").glob("*.aside"):
            match = ASIDE_NAME.fullmatch(path.name)
            with contextlib.suppress(FileNotFoundError):  # settled meanwhile
                if match and _modified_at(path) < cutoff:
                    yield SetAside(match[1], str(path))

    def remove_abandoned_uploads(self, cutoff: datetime) -> int:
        # An upload under way writes its file as it reads. A set-aside is no upload: it goes
        # only once the rows were looked at again (retention.orphans).
        removed = 0
        for path in (self.root / "incoming").iterdir():
            if ASIDE_NAME.fullmatch(path.name):
                continue
            with contextlib.suppress(FileNotFoundError):  # finished or removed meanwhile
                if _modified_at(path) < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def read_chunks(self, sha256: str) -> Iterator[bytes]:
        path = self._path(sha256)
        if not path.exists():
            raise NotFound(Text("EvidenceStore.missing"))
        return verified(self._chunks(path), sha256)

    def open_verified(self, sha256: str) -> BinaryIO:
        # A local file is checked in place and then passed on as it is: no copy.
        if not self.is_intact(sha256):
            raise CorruptedBlob(Text("EvidenceStore.corrupted"))
        return self._path(sha256).open("rb")

    def blobs(self) -> Iterator[tuple[str, Path]]:
        """Every stored blob's name and file, in name order (uploads under way are not blobs)."""
        for path in sorted(self.root.glob("??/??/*")):
            if SHA256_NAME.fullmatch(path.name) and path == self._path(path.name):
                yield path.name, path

    @staticmethod
    def _chunks(path: Path) -> Iterator[bytes]:
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                yield chunk


def _modified_at(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
