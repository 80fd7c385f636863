"""The determination document: ordered in the determination's transaction, then made, signed and
stored by the document job (signing is the slow part, and holds no lock of the case's); served
to those entitled to it; verified by anyone who holds it, without showing personal data."""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.auth.models import Insurer, User
from kuaichu.cases import lifecycle
from kuaichu.cases.access import get_case
from kuaichu.cases.catalogue import AccidentType, VehicleType, Weather
from kuaichu.cases.lifecycle import EventKind
from kuaichu.cases.models import Case
from kuaichu.clock import Clock, local
from kuaichu.db import Database
from kuaichu.documents import pdf
from kuaichu.documents.models import DeterminationDocument, DocumentOrder
from kuaichu.documents.schemas import DocumentOut, DocumentStatusOut, StalledDocumentOut, VerificationOut
from kuaichu.documents.signing import DocumentSigner
from kuaichu.errors import NotFound
from kuaichu.legal import Citation
from kuaichu.liability.grades import DeterminationStatus, Responsibility
from kuaichu.liability.models import Determination, LiabilityFacts
from kuaichu.messages import DEFAULT_LOCALE, Locale, Text, reader_locale, text
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import SYSTEM, Principal
from kuaichu.privacy import mask_id_number, mask_phone
from kuaichu.registries.models import RegistryCheck
from kuaichu.registries.schemas import RegistryKind
from kuaichu.registries.service import subject_of
from kuaichu.signatures import service as signatures

# How the document and its facts text name the parties, by position: 甲方, 乙方, 丙方... These are
# the legal names of the parties (the English pages show them too), so they stay Chinese.
DESIGNATIONS = "甲乙丙丁戊己庚辛壬癸"
log = logging.getLogger(__name__)
# An order a run took and did not finish (its process killed) is taken again after this.
LEASE_SECONDS = 60
RETRY_FIRST_SECONDS = 5
RETRY_MAX_SECONDS = 300


def designation(position: int) -> str:
    if 1 <= position <= len(DESIGNATIONS):
        return DESIGNATIONS[position - 1]
    return text("Document.party_n", DEFAULT_LOCALE, position=position)


@dataclass(frozen=True)
class DocumentIssuer:
    """What making a document needs from the running app."""

    signer: DocumentSigner
    authority: str
    font_file: Path
    public_base_url: str

    def verify_url(self, number: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/verify/{number}"

    def make(self, content: pdf.DocumentContent) -> bytes:
        """The rendered document, signed: CPU work, run off the event loop."""
        rendered = pdf.render(content, self.font_file)
        return self.signer.sign(rendered, reason=f"{pdf.TITLE} {content.number}", location=self.authority)


def order_document(session: Session, case: Case, determination: Determination, now: datetime) -> str:
    """In the determination's own transaction: the document it needs, to be made, signed and
    stored by the document job after the commit. Returns the number it will bear."""
    issued = session.scalar(select(func.count()).where(DeterminationDocument.case_id == case.id)) or 0
    waiting = (
        session.scalar(
            select(func.count()).where(DocumentOrder.case_id == case.id, DocumentOrder.issued_at.is_(None))
        )
        or 0
    )
    number = f"{case.number}-{issued + waiting + 1}"
    session.add(
        DocumentOrder(
            determination_id=determination.id,
            case_id=case.id,
            number=number,
            ordered_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return number


def document_in_making(session: Session, determination_id: int) -> str | None:
    """The number of the determination's document while it is being made, else None (made, or
    a determination older than the orders, whose document was made with it)."""
    return session.scalar(
        select(DocumentOrder.number).where(
            DocumentOrder.determination_id == determination_id, DocumentOrder.issued_at.is_(None)
        )
    )


@dataclass(frozen=True)
class DocumentWork:
    determination_id: int
    number: str


def claim_orders(session: Session, now: datetime, limit: int = 10) -> list[DocumentWork]:
    """Orders due and not leased, leased to this run (another process skips them)."""
    orders = session.scalars(
        select(DocumentOrder)
        .where(
            DocumentOrder.issued_at.is_(None),
            DocumentOrder.next_attempt_at <= now,
            (DocumentOrder.lease_until.is_(None)) | (DocumentOrder.lease_until <= now),
        )
        .order_by(DocumentOrder.ordered_at, DocumentOrder.determination_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for order in orders:
        order.lease_until = now + timedelta(seconds=LEASE_SECONDS)
    return [DocumentWork(o.determination_id, o.number) for o in orders]


def document_content(session: Session, work: DocumentWork, issuer: DocumentIssuer) -> pdf.DocumentContent:
    order = session.get_one(DocumentOrder, work.determination_id)
    determination = session.get_one(Determination, order.determination_id)
    case = session.get_one(Case, order.case_id)
    return _content(
        session,
        case,
        determination,
        order.number,
        order.ordered_at,
        issuer,
        _replaced(session, determination),
    )


def _replaced(session: Session, determination: Determination) -> DeterminationDocument | None:
    if determination.replaces_id is None:
        return None
    return session.scalars(
        select(DeterminationDocument).where(
            DeterminationDocument.determination_id == determination.replaces_id
        )
    ).first()


def store_document(session: Session, work: DocumentWork, signed: bytes, now: datetime) -> bool:
    """The signed document stored, its order marked issued, the timeline told and the parties
    sent the SMS that carries its number, all in one transaction; False if another run stored
    it first (the order's row lock makes the second wait and see it)."""
    order = session.get_one(DocumentOrder, work.determination_id, with_for_update=True)
    if order.issued_at is not None:
        return False
    determination = session.get_one(Determination, order.determination_id)
    case = session.get_one(Case, order.case_id)
    replaced = _replaced(session, determination)
    session.add(
        DeterminationDocument(
            number=order.number,
            case_id=case.id,
            determination_id=determination.id,
            replaces_id=replaced.id if replaced else None,
            # The day the document states: the determination's.
            issued_at=order.ordered_at,
            sha256=hashlib.sha256(signed).hexdigest(),
            pdf=signed,
        )
    )
    order.issued_at, order.lease_until = now, None
    detail = {"number": order.number, "replaces": replaced.number if replaced else None}
    lifecycle.record_event(session, case, EventKind.DOCUMENT_ISSUED, SYSTEM, now, detail)
    notify_parties(session, case, Sms.DETERMINED, now, document_number=order.number)
    return True


def order_failed(session: Session, determination_id: int, error: str, now: datetime) -> None:
    """Try again later, later each time up to a ceiling, never giving up: the supervisor sees
    every order that failed (stalled_orders) until it is made."""
    order = session.get_one(DocumentOrder, determination_id)
    order.attempts += 1
    order.last_error = error[:255]
    order.lease_until = None
    delay = min(RETRY_FIRST_SECONDS * 2 ** (order.attempts - 1), RETRY_MAX_SECONDS)
    order.next_attempt_at = now + timedelta(seconds=delay)


def stalled_orders(session: Session) -> list[StalledDocumentOut]:
    """Documents not made yet whose making failed at least once, oldest first."""
    orders = session.scalars(
        select(DocumentOrder)
        .where(DocumentOrder.issued_at.is_(None), DocumentOrder.attempts > 0)
        .order_by(DocumentOrder.ordered_at)
    )
    return [
        StalledDocumentOut(
            number=o.number,
            case_id=o.case_id,
            ordered_at=o.ordered_at,
            attempts=o.attempts,
            last_error=o.last_error or "",
            next_attempt_at=o.next_attempt_at,
        )
        for o in orders
    ]


@dataclass
class DocumentJob:
    """The app's job: make, sign and store the documents determinations ordered. Every process
    runs it (leases keep two from making the same one); it runs when a determination commits
    and at its period, which retries failures and picks up what a killed process left."""

    database: Database
    clock: Clock
    issuer: DocumentIssuer
    # The SMS and push the stored document enqueued go out now, not at the outbox's next poll.
    wake_dispatcher: Callable[[], None]
    # One run at a time in a process: whoever awaits a run sees every due order handled.
    _running: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run_once(self) -> int:
        """Returns how many documents this run stored."""
        async with self._running:
            stored = 0
            started = self.clock.now()
            while claimed := await self.database.write(lambda s: claim_orders(s, started), urgent=True):
                for work in claimed:
                    stored += await self._make_or_fail(work)
            if stored:
                self.wake_dispatcher()
            return stored

    async def _make_or_fail(self, work: DocumentWork) -> bool:
        try:
            content = await self.database.read(lambda s: document_content(s, work, self.issuer))
            signed = await asyncio.to_thread(self.issuer.make, content)
            return await self.database.write(lambda s: store_document(s, work, signed, self.clock.now()))
        except Exception as error:
            log.exception("document %s: making it failed; it is tried again", work.number)
            failure, now = repr(error), self.clock.now()
            await self.database.write(lambda s: order_failed(s, work.determination_id, failure, now))
            return False


def _content(
    session: Session,
    case: Case,
    determination: Determination,
    number: str,
    now: datetime,
    issuer: DocumentIssuer,
    replaced: DeterminationDocument | None,
) -> pdf.DocumentContent:
    officer = session.get(User, determination.officer_id)
    assert officer is not None
    shares = {int(s["party_id"]): Responsibility(str(s["responsibility"])) for s in determination.shares}
    facts_row = session.get(LiabilityFacts, case.id)
    facts = facts_row.parties if facts_row else {}
    insurer_names = {code: name for code, name in session.execute(select(Insurer.code, Insurer.name))}
    insured = _registry_policies(session, case)
    # The determination is the Chinese legal text: every word on it in the default locale.
    unregistered = text("Document.not_registered", DEFAULT_LOCALE)
    parties = []
    for p in case.parties:
        policy = insured.get(p.position, {})
        parties.append(
            pdf.PartyLine(
                designation=designation(p.position),
                name=p.name,
                id_number=mask_id_number(p.id_number),
                # A mainland licence number is the ID number: printed masked just the same.
                licence_number=mask_id_number(p.licence_number),
                phone=mask_phone(p.phone),
                vehicle_type=VehicleType(p.vehicle_type).label(DEFAULT_LOCALE),
                plate_number=p.plate_number,
                # What the insurance registry found wins over what was said at the roadside.
                insurer=str(policy.get("insurer_name") or "")
                or insurer_names.get(p.insurer_code or "")
                or (p.insurer_code or unregistered),
                policy_number=str(policy.get("policy_number") or "") or p.policy_number or unregistered,
                impact_point=facts.get(str(p.position), {}).get("impact_point") or "—",
                responsibility=shares[p.id].label(DEFAULT_LOCALE),
            )
        )
    if determination.proposal_accepted:
        assert determination.proposal is not None
        proposal = determination.proposal
        basis = Text("Document.basis_rule", rule=proposal["label"], basis=proposal["basis"])
    else:
        basis = Text("Document.basis_evidence", law=Citation("art. 60"))
    occurred = local(case.occurred_at or case.reported_at)
    return pdf.DocumentContent(
        number=number,
        case_number=case.number,
        occurred_at=text("Document.occurred_at", DEFAULT_LOCALE, at=occurred),
        address=case.address or "",
        weather=Weather(case.weather).label(DEFAULT_LOCALE) if case.weather else "",
        accident_type=AccidentType(case.accident_type).label(DEFAULT_LOCALE) if case.accident_type else "",
        facts=case.description or "",
        parties=parties,
        reasoning=determination.reasoning.strip(),
        basis=basis.render(DEFAULT_LOCALE),
        authority=issuer.authority,
        officer=officer.display_name,
        badge_number=officer.badge_number or "",
        issued_on=text("Document.issued_on", DEFAULT_LOCALE, day=local(now)),
        verify_url=issuer.verify_url(number),
        replaces_number=replaced.number if replaced else None,
        signatures=_signatures(session, case),
    )


def _signatures(session: Session, case: Case) -> pdf.Signatures:
    """Each party as 甲/乙/丙 with when they signed the facts as recorded (art. 19)."""
    signed_at = {s.party.position: s.row.at for s in signatures.signed(session, case) if s.row}
    lines = []
    for party in case.parties:
        who = {"designation": designation(party.position), "name": party.name}
        at = signed_at.get(party.position)
        said = text("Document.signed", DEFAULT_LOCALE, **who, at=local(at)) if at else None
        lines.append(said or text("Document.not_signed", DEFAULT_LOCALE, **who))
    return pdf.Signatures(text("Document.signatures", DEFAULT_LOCALE), lines)


def _registry_policies(session: Session, case: Case) -> dict[int, dict[str, object]]:
    """What the insurance registry found for each party (policy number, insurer), from the newest
    check of the party as it now stands: a check of data changed since concerns someone else."""
    current = {p.position: subject_of(p) for p in case.parties}
    rows = session.scalars(
        select(RegistryCheck)
        .where(RegistryCheck.case_id == case.id, RegistryCheck.kind == RegistryKind.INSURANCE)
        .order_by(RegistryCheck.checked_at, RegistryCheck.id)
    )
    return {
        r.party_position: r.found
        for r in rows
        if r.found.get("policy_number") and current.get(r.party_position) == r.subject
    }


def _status(session: Session, document: DeterminationDocument) -> str:
    determination = session.get(Determination, document.determination_id)
    assert determination is not None
    return determination.status


def _by_number(session: Session, number: str) -> DeterminationDocument:
    document = session.scalars(
        select(DeterminationDocument).where(DeterminationDocument.number == number)
    ).first()
    if document is None:
        raise NotFound(Text("Document.no_such_number"))
    return document


def list_documents(
    session: Session, viewer: Principal, case_id: int, locale: Locale | None = None
) -> list[DocumentOut]:
    """The case's documents, labelled in `locale` (the reader's when None)."""
    case = get_case(session, viewer, case_id)
    documents = session.scalars(
        select(DeterminationDocument)
        .where(DeterminationDocument.case_id == case.id)
        .order_by(DeterminationDocument.id)
    ).all()
    numbers = {d.id: d.number for d in documents}
    out = []
    for document in documents:
        status = _status(session, document)
        out.append(
            DocumentOut(
                number=document.number,
                issued_at=document.issued_at,
                status=status,
                status_label=DeterminationStatus(status).label(locale),
                replaces_number=numbers.get(document.replaces_id) if document.replaces_id else None,
                download_url=f"/api/documents/{document.number}/pdf",
            )
        )
    return out


def download(session: Session, viewer: Principal, number: str, now: datetime) -> tuple[str, bytes]:
    """The signed PDF for whoever may see the case (404 otherwise); every download is audited."""
    document = _by_number(session, number)
    get_case(session, viewer, document.case_id)
    audit.record(
        session, viewer, AuditAction.DOWNLOAD_DOCUMENT, now, document.case_id, {"number": document.number}
    )
    return f"{document.number}.pdf", document.pdf


def public_status(session: Session, number: str, authority: str, signer: DocumentSigner) -> DocumentStatusOut:
    document = _by_number(session, number)
    status = _status(session, document)
    successor = session.scalars(
        select(DeterminationDocument.number).where(DeterminationDocument.replaces_id == document.id)
    ).first()
    return DocumentStatusOut(
        number=document.number,
        issued_on=local(document.issued_at).date(),
        authority=authority,
        status=status,
        status_label=DeterminationStatus(status).label(),
        replaced_by=successor,
        sha256=document.sha256,
        certificate_sha256=signer.fingerprint,
    )


def issued_digest(session: Session, number: str) -> tuple[str, str]:
    """(sha256 as issued, status) of a document, for checking an uploaded copy."""
    document = _by_number(session, number)
    return document.sha256, _status(session, document)


def verification(
    number: str, uploaded: bytes, issued_sha256: str, status: str, signer: DocumentSigner
) -> VerificationOut:
    """Is this file the document we issued under that number, byte for byte, with our signature?
    Said to whoever uploaded it, in their language."""
    signature = signer.check(uploaded)
    unchanged = hashlib.sha256(uploaded).hexdigest() == issued_sha256
    authentic = signature.valid and unchanged
    if authentic and status != DeterminationStatus.IN_FORCE:
        key = "Document.authentic_revoked"
    elif authentic:
        key = "Document.authentic"
    elif signature.valid:
        key = "Document.other_number"
    else:
        key = "Document.not_authentic"
    return VerificationOut(
        number=number,
        authentic=authentic,
        unchanged=unchanged,
        signature_valid=signature.valid,
        status=status,
        status_label=DeterminationStatus(status).label(),
        message=text(key, reader_locale()),
    )


def read_documents(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[DocumentOut]:
    """The documents as a person reads them: a read of personal data, so audited."""
    documents = list_documents(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_DOCUMENTS, now, case_id)
    return documents
