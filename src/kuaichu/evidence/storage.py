"""Content-addressed evidence storage: a blob's name is its SHA-256.

The local directory store is the default; an S3-compatible store implements the same
protocol for scale-out.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import filetype

from kuaichu.errors import NotFound, TooLarge, UnsupportedMedia

ACCEPTED_MEDIA = frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm"})
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    media_type: str


class EvidenceStore(Protocol):
    def put(self, source: BinaryIO, max_bytes: int) -> StoredBlob: ...

    def read_chunks(self, sha256: str) -> Iterator[bytes]: ...

    def is_intact(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove a blob; the caller has made sure no kept evidence names it."""
        ...


def sniff_media_type(head: bytes) -> str:
    """The media type by content, never by file name or the client's claim."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED_MEDIA:
        raise UnsupportedMedia("仅支持 JPEG、PNG、WebP 图片和 MP4、WebM 视频")
    return kind.mime


class LocalEvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "incoming").mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        media_type = ""
        fd, temp_name = tempfile.mkstemp(dir=self.root / "incoming")
        try:
            with os.fdopen(fd, "wb") as target:
                while chunk := source.read(_CHUNK):
                    if not media_type:
                        media_type = sniff_media_type(chunk[:8192])
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"文件超过{max_bytes // (1024 * 1024)}MB上限")
                    digest.update(chunk)
                    target.write(chunk)
            if size == 0:
                raise UnsupportedMedia("文件为空")
            final = self._path(digest.hexdigest())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, final)  # same content, same name: a re-upload is harmless
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
        return StoredBlob(digest.hexdigest(), size, media_type)

    def is_intact(self, sha256: str) -> bool:
        """Chain of custody: the stored bytes still hash to the name recorded at upload."""
        digest = hashlib.sha256()
        for chunk in self.read_chunks(sha256):
            digest.update(chunk)
        return digest.hexdigest() == sha256

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def read_chunks(self, sha256: str) -> Iterator[bytes]:
        path = self._path(sha256)
        if not path.exists():
            raise NotFound("证据文件不存在")
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                yield chunk
