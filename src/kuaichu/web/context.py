"""What a request handler needs from the running app, built once at start-up (the web layer's
composition record: the app wires the concrete stores, registries and signers into it)."""

from dataclasses import dataclass

from fastapi import Request

from kuaichu.audit.signing import AuditSigner
from kuaichu.auth.service import TokenService
from kuaichu.bus import EventBus
from kuaichu.clock import Clock
from kuaichu.db import Database
from kuaichu.documents.service import DocumentIssuer
from kuaichu.evidence.storage import EvidenceStore
from kuaichu.registries.adapters import Registries
from kuaichu.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    database: Database
    clock: Clock
    bus: EventBus
    tokens: TokenService
    evidence_store: EvidenceStore
    audit_signer: AuditSigner
    registries: Registries
    document_issuer: DocumentIssuer


async def app_context(request: Request) -> AppContext:
    return request.app.state.context
