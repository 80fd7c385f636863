"""The ASGI application: wiring only; the rules live in the domain services."""

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.signing import AuditSigner
from kuaichu.auth.api import router as auth_router
from kuaichu.auth.service import TokenService
from kuaichu.backoffice.api import router as backoffice_router
from kuaichu.bus import create_bus
from kuaichu.calls.api import router as calls_router
from kuaichu.calls.api import sweep_once
from kuaichu.cases.api import catalogue_router
from kuaichu.cases.api import router as cases_router
from kuaichu.cases.fields import field_label
from kuaichu.claims.api import router as claims_router
from kuaichu.claims.webhooks import InsurerWebhookGateway
from kuaichu.clock import Clock, SystemClock
from kuaichu.collection.api import router as collection_router
from kuaichu.consent.api import router as consent_router
from kuaichu.db import Database
from kuaichu.documents.api import router as documents_router
from kuaichu.documents.service import DocumentIssuer, DocumentJob
from kuaichu.documents.signing import DocumentSigner
from kuaichu.eligibility.api import router as eligibility_router
from kuaichu.errors import install_problem_handlers
from kuaichu.evidence.api import router as evidence_router
from kuaichu.evidence.factory import evidence_store_from_settings
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.invitations.api import router as invitations_router
from kuaichu.liability.api import router as liability_router
from kuaichu.limits import BodySizeLimit, RejectNulCharacters
from kuaichu.media.api import router as media_router
from kuaichu.media.service import RecordingJob
from kuaichu.messages.api import router as messages_router
from kuaichu.metrics.api import RequestMetrics
from kuaichu.metrics.api import router as metrics_router
from kuaichu.migrate import upgrade
from kuaichu.notify.dispatcher import OutboxDispatcher
from kuaichu.notify.gateways import PushGateway, sms_gateway_from_settings
from kuaichu.recognition.api import router as recognition_router
from kuaichu.registries.api import router as registries_router
from kuaichu.registries.factory import registries_from_settings
from kuaichu.retention.api import router as retention_router
from kuaichu.retention.service import RetentionPolicy, run_retention
from kuaichu.reviews.api import router as reviews_router
from kuaichu.reviews.service import close_final_cases
from kuaichu.scheduler import Job, Scheduler
from kuaichu.seats.api import router as seats_router
from kuaichu.settings import Settings
from kuaichu.settlement.api import router as settlement_router
from kuaichu.signals.api import router as signals_router
from kuaichu.signals.rules import SignalConfig
from kuaichu.signals.service import SignalJob
from kuaichu.signatures.api import router as signatures_router
from kuaichu.supervision.api import router as supervision_router
from kuaichu.web.context import AppContext
from kuaichu.web.locale import ReaderLocale
from kuaichu.web.openapi import install_openapi
from kuaichu.web.pages import mount_pages
from kuaichu.web.security import CredentialsBeforeBody, PreconditionBeforeAnswer, SecurityHeaders

OUTBOX_JOB = "outbox"
DOCUMENTS_JOB = "documents"
SIGNALS_JOB = "signals"


def unit_of_work(context: AppContext, work: Callable[[Session, datetime], object]) -> Job:
    """A periodic job that is one unit of work at the clock's now."""

    async def run() -> None:
        await context.database.write(lambda s: work(s, context.clock.now()))

    return run


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, settings.effective_database_url)
        database = Database(settings.effective_database_url)
        if settings.jurisdictions_file:
            features = read_feature_collection(settings.jurisdictions_file)
            await database.write(lambda s: import_jurisdictions(s, features))
        bus = create_bus(settings.redis_url)
        context = AppContext(
            settings=settings,
            database=database,
            clock=clock,
            bus=bus,
            tokens=TokenService(
                settings.signing_secret, settings.party_token_hours, settings.staff_access_token_minutes
            ),
            evidence_store=evidence_store_from_settings(settings),
            audit_signer=AuditSigner.at_set_up(
                settings.effective_audit_key_file,
                settings.effective_audit_public_key_file,
                settings.data_dir,
                settings.audit_public_key_sha256,
            ),
            registries=registries_from_settings(settings, database),
            document_issuer=DocumentIssuer(
                signer=DocumentSigner.at_set_up(
                    settings.effective_document_key_file,
                    settings.effective_document_cert_file,
                    settings.issuing_authority,
                    clock.now(),
                ),
                authority=settings.issuing_authority,
                font_file=settings.document_font_file,
                public_base_url=settings.effective_public_base_url,
            ),
        )
        dispatcher = OutboxDispatcher(
            database=database,
            clock=clock,
            sms_gateway=sms_gateway_from_settings(settings, database, clock),
            push_gateway=PushGateway(bus),
            max_attempts=settings.outbox_max_attempts,
            lease_seconds=settings.outbox_lease_seconds,
            public_base_url=settings.effective_public_base_url,
            webhook_gateway=InsurerWebhookGateway(database, clock),
        )
        scheduler = Scheduler()
        app.state.scheduler = scheduler
        app.state.context = context
        app.state.dispatcher = dispatcher
        app.state.wake_dispatcher = lambda: scheduler.wake(OUTBOX_JOB)
        documents = DocumentJob(database, clock, context.document_issuer, app.state.wake_dispatcher)
        app.state.documents = documents
        app.state.wake_documents = lambda: scheduler.wake(DOCUMENTS_JOB)
        signal_job = SignalJob(database, clock, SignalConfig.of(settings))
        app.state.signal_job = signal_job
        app.state.wake_signals = lambda: scheduler.wake(SIGNALS_JOB)
        signer = context.audit_signer
        audit.sign_on_commit(
            database.writer,
            audit.CheckpointPolicy(
                signer, clock, settings.audit_checkpoint_entries, settings.audit_checkpoint_seconds
            ),
        )

        def sign_audit_checkpoint(session: Session, now: datetime) -> object:
            return audit.checkpoint(session, signer, now)

        retention = RetentionPolicy.from_settings(settings)

        async def purge_expired_data() -> object:
            return await run_retention(database, context.evidence_store, retention, clock.now())

        # Entries written before start (`kuaichu demo`'s seed, `kuaichu user add`) are signed now.
        await database.write(lambda s: sign_audit_checkpoint(s, clock.now()))

        scheduler.add(
            "audit checkpoint",
            settings.audit_checkpoint_seconds,
            unit_of_work(context, sign_audit_checkpoint),
        )
        scheduler.add(
            "close final cases", settings.close_sweep_seconds, unit_of_work(context, close_final_cases)
        )
        scheduler.add("retention", settings.retention_sweep_seconds, purge_expired_data)
        if not database.is_postgres:
            scheduler.add(
                "sqlite checkpoint",
                settings.sqlite_checkpoint_seconds,
                lambda: anyio.to_thread.run_sync(database.checkpoint),
            )
        scheduler.add("call sweep", settings.call_sweep_seconds, lambda: sweep_once(app))
        scheduler.add(DOCUMENTS_JOB, settings.document_sweep_seconds, documents.run_once, at_start=True)
        scheduler.add(SIGNALS_JOB, settings.signal_order_sweep_seconds, signal_job.run_once, at_start=True)
        if settings.janus_nodes:
            recording = RecordingJob(database, clock, context.evidence_store, settings)
            scheduler.add("call recordings", settings.janus_sweep_seconds, recording.run_once)
        if settings.run_dispatcher:
            scheduler.add(OUTBOX_JOB, settings.outbox_poll_seconds, dispatcher.run_once, at_start=True)
        scheduler.start()
        # What start-up built lives as long as the process: frozen, the cyclic collector never
        # scans it again (a full collection of it stalls every request for ~0.2 s).
        gc.freeze()
        try:
            yield
        finally:
            await scheduler.stop()
            await bus.close()
            database.dispose()

    app = FastAPI(title="快处 Kuaichu", version="0.1.0", lifespan=lifespan)
    install_problem_handlers(app, field_label)
    # The last added runs first: the size limit bounds what the NUL check reads.
    app.add_middleware(PreconditionBeforeAnswer)
    app.add_middleware(RejectNulCharacters)
    app.add_middleware(BodySizeLimit, upload_limit=settings.evidence_max_bytes)
    app.add_middleware(RequestMetrics)
    # Credentials are checked before any body is read (the NUL check reads small bodies).
    app.add_middleware(CredentialsBeforeBody)
    app.add_middleware(SecurityHeaders, media_servers=[node.public_url for node in settings.janus_nodes])
    app.add_middleware(ReaderLocale)
    # FastAPI tries the routers in this order, every route of each: the busiest go first (a
    # report's route was reached in 96 µs behind 18 routers, 28 µs now).
    for router in (
        auth_router,
        backoffice_router,  # before the cases router: /api/cases/search is no case id
        cases_router,
        calls_router,
        catalogue_router,
        collection_router,
        evidence_router,
        recognition_router,
        liability_router,
        reviews_router,
        claims_router,
        registries_router,
        eligibility_router,
        documents_router,
        supervision_router,
        settlement_router,
        signals_router,
        signatures_router,
        metrics_router,
        consent_router,
        messages_router,
        retention_router,
        media_router,
        invitations_router,
        seats_router,
    ):
        app.include_router(router)
    mount_pages(app)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # /openapi.json declares every status and content type each operation can answer.
    install_openapi(app)
    return app
