from kuaichu.evidence.s3 import S3EvidenceStore
from kuaichu.evidence.storage import EvidenceStore, LocalEvidenceStore
from kuaichu.settings import Settings


def evidence_store_from_settings(settings: Settings) -> EvidenceStore:
    """S3-compatible object storage when an endpoint is set, else the local directory."""
    if settings.evidence_s3_endpoint:
        return S3EvidenceStore.from_settings(settings)
    return LocalEvidenceStore(settings.evidence_dir)
