"""Imports every domain's tables so Base.metadata is complete (Alembic, tests)."""

from kuaichu import limit_locks
from kuaichu.audit import models as audit_models
from kuaichu.auth import models as auth_models
from kuaichu.calls import models as call_models
from kuaichu.cases import models as case_models
from kuaichu.claims import models as claim_models
from kuaichu.collection import models as collection_models
from kuaichu.consent import models as consent_models
from kuaichu.db import Base
from kuaichu.documents import models as document_models
from kuaichu.eligibility import models as eligibility_models
from kuaichu.evidence import models as evidence_models
from kuaichu.geo import models as geo_models
from kuaichu.invitations import models as invitation_models
from kuaichu.liability import models as liability_models
from kuaichu.media import models as media_models
from kuaichu.notify import models as notify_models
from kuaichu.recognition import models as recognition_models
from kuaichu.registries import models as registry_models
from kuaichu.retention import models as retention_models
from kuaichu.reviews import models as review_models
from kuaichu.seats import models as seat_models
from kuaichu.settlement import models as settlement_models
from kuaichu.signals import models as signal_models
from kuaichu.signatures import models as signature_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "call_models",
    "case_models",
    "claim_models",
    "collection_models",
    "consent_models",
    "document_models",
    "eligibility_models",
    "evidence_models",
    "geo_models",
    "invitation_models",
    "liability_models",
    "limit_locks",
    "media_models",
    "notify_models",
    "recognition_models",
    "registry_models",
    "retention_models",
    "review_models",
    "seat_models",
    "settlement_models",
    "signal_models",
    "signature_models",
]
