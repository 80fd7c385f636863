"""The case's view with its outcome: the determination in force, the end of the review period and
the reporter's consent. It reads liability, reviews and consent, so it sits above them; the
case's own part is kuaichu.cases.views."""

from datetime import datetime

from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases.access import get_case
from kuaichu.cases.models import Case
from kuaichu.cases.schemas import CaseOut
from kuaichu.cases.views import Outcome
from kuaichu.cases.views import case_view as own_view
from kuaichu.consent.service import consented_at_of
from kuaichu.documents.service import document_in_making
from kuaichu.liability.service import InForceTerms, in_force_terms
from kuaichu.messages import reader_locale, text
from kuaichu.principal import Principal
from kuaichu.reviews.deadline import review_deadline


def case_view(session: Session, case: Case, viewer: Principal) -> CaseOut:
    determination = in_force_terms(session, case.id)
    outcome = Outcome(
        determination=_determination_out(session, determination),
        review_deadline=review_deadline(determination.delivered_at) if determination else None,
        consented_at=consented_at_of(session, case.reporter_phone),
    )
    return own_view(session, case, viewer, outcome)


def read_case(session: Session, viewer: Principal, case_id: int, now: datetime) -> CaseOut:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_CASE, now, case.id)
    return case_view(session, case, viewer)


def _determination_out(session: Session, determination: InForceTerms | None) -> dict[str, object] | None:
    if determination is None:
        return None
    # Its document is signed after the determination commits: until stored, "文书生成中".
    in_making = document_in_making(session, determination.id)
    return {
        "document_pending": in_making is not None,
        "document_pending_label": text("Document.generating", reader_locale()) if in_making else None,
        "id": determination.id,
        "decided_at": determination.decided_at.isoformat(),
        "delivered_at": determination.delivered_at.isoformat(),
        "shares": determination.shares,
        "replaces_id": determination.replaces_id,
    }
