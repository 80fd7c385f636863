"""Moving the local evidence directory to S3-compatible object storage (`kuaichu evidence
migrate`): each blob is checked against its name before it is sent and read back after."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from kuaichu.errors import UnsupportedMedia
from kuaichu.evidence.s3 import S3EvidenceStore
from kuaichu.evidence.storage import LocalEvidenceStore, StoredBlob, sniff_media_type


class Outcome(StrEnum):
    UPLOADED = "uploaded"
    PRESENT = "already in the bucket"
    CORRUPT = "CORRUPT on disk, not uploaded"
    FAILED = "FAILED: the copy in the bucket did not verify, removed"


@dataclass
class MigrationReport:
    uploaded: int = 0
    present: int = 0
    corrupt: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every local blob is now in the bucket, verified."""
        return not self.corrupt and not self.failed


def migrate(
    source: LocalEvidenceStore,
    target: S3EvidenceStore,
    told: Callable[[str, str], None] = lambda sha256, outcome: None,
) -> MigrationReport:
    """Copy every local blob to the bucket. Idempotent: a blob the bucket already holds at its
    size is not sent again (it was verified when it was sent, and every read verifies it), so a
    run that stopped half way is simply run again. Raises Unavailable when the store fails."""
    report = MigrationReport()
    for sha256, path in source.blobs():
        size = path.stat().st_size
        if target.size_of(sha256) == size:
            report.present += 1
            told(sha256, Outcome.PRESENT)
            continue
        if not source.is_intact(sha256):
            report.corrupt.append(sha256)
            told(sha256, Outcome.CORRUPT)
            continue
        with path.open("rb") as blob_file:
            blob = StoredBlob(sha256, size, _media_type(blob_file.read(8192)))
            blob_file.seek(0)
            target.upload(blob_file, blob)
        if target.is_intact(sha256):
            report.uploaded += 1
            told(sha256, Outcome.UPLOADED)
        else:
            target.delete(sha256)  # so that the next run sends it again
            report.failed.append(sha256)
            told(sha256, Outcome.FAILED)
    return report


def _media_type(head: bytes) -> str:
    try:
        return sniff_media_type(head)
    except UnsupportedMedia:
        return "application/octet-stream"
