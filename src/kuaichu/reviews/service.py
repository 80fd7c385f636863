"""复核 (art. 71 to 75): a party applies within the period; another unit's reviewer decides."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState, Edit
from kuaichu.cases.models import Case
from kuaichu.errors import Conflict, Forbidden, IllegalTransition, NotFound
from kuaichu.liability.grades import DeterminationStatus
from kuaichu.liability.service import in_force_determination
from kuaichu.messages import Text
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import SYSTEM, Principal
from kuaichu.reviews.deadline import days_left, decision_due_on, last_day_to_apply, review_deadline
from kuaichu.reviews.models import ReviewRequest
from kuaichu.reviews.schemas import (
    ReviewApplicationIn,
    ReviewDecisionIn,
    ReviewOut,
    ReviewOutcome,
)


def apply_for_review(
    session: Session,
    party: Principal,
    case_id: int,
    application: ReviewApplicationIn,
    now: datetime,
) -> Case:
    case = get_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    applicant = party_of(case, party)
    if applicant is None:
        raise Forbidden(Text("Reviews.only_parties"))
    if session.scalars(select(ReviewRequest.id).where(ReviewRequest.case_id == case.id)).first():
        raise Conflict(Text("Reviews.only_once"))  # art. 71: one review per accident
    determination = in_force_determination(session, case.id)
    lifecycle.ensure_editable(case, Edit.REVIEW, party)
    if determination is None:
        raise lifecycle.not_editable(case, Edit.REVIEW)
    if now >= review_deadline(determination.delivered_at):
        last_day = last_day_to_apply(determination.delivered_at).isoformat()
        raise IllegalTransition(Text("Reviews.period_over", last_day=last_day), state=case.state)
    lifecycle.apply(session, case, Action.REQUEST_REVIEW, party, now)
    review = ReviewRequest(
        case_id=case.id,
        determination_id=determination.id,
        party_id=applicant.id,
        reasons=application.reasons,
        submitted_at=now,
    )
    session.add(review)
    session.flush()
    notify_parties(session, case, Sms.REVIEW_REQUESTED, now)
    return case


def decide_review(
    session: Session, reviewer: Principal, case_id: int, decision: ReviewDecisionIn, now: datetime
) -> Case:
    case = get_case(session, reviewer, case_id, lock=True)
    ensure_may_write(case, reviewer, WriteRule.REVIEW)
    determination = in_force_determination(session, case.id)
    if determination is not None and reviewer.id == determination.officer_id:
        raise Forbidden(Text("Reviews.own_determination"))
    review = session.scalars(select(ReviewRequest).where(ReviewRequest.case_id == case.id)).first()
    if review is None or determination is None or review.outcome is not None:
        raise IllegalTransition(Text("Reviews.nothing_pending"), state=case.state)
    upheld = decision.outcome is ReviewOutcome.UPHELD
    lifecycle.apply(
        session,
        case,
        Action.UPHOLD if upheld else Action.REVOKE,
        reviewer,
        now,
        {"note": decision.note},
    )
    review.reviewer_id = reviewer.id
    review.outcome = decision.outcome.value
    review.decision_note = decision.note
    review.decided_at = now
    if not upheld:
        determination.status = DeterminationStatus.REVOKED
    notify_parties(session, case, Sms.REVIEW_UPHELD if upheld else Sms.REVIEW_REVOKED, now)
    return case


def review_still_possible(session: Session, case_id: int, now: datetime) -> bool:
    """Within the review period and no review yet (one review per accident, art. 71)."""
    determination = in_force_determination(session, case_id)
    if determination is None:
        return False
    if session.scalars(select(ReviewRequest.id).where(ReviewRequest.case_id == case_id)).first():
        return False
    return now < review_deadline(determination.delivered_at)


def close_final_cases(session: Session, now: datetime) -> int:
    """办结: a determination nobody can ask to review any more is final; its case closes."""
    determined = session.scalars(
        select(Case).where(Case.state == CaseState.DETERMINED).order_by(Case.id).with_for_update()
    ).all()
    closed = 0
    for case in determined:
        if not review_still_possible(session, case.id, now):
            lifecycle.apply(session, case, Action.CLOSE, SYSTEM, now)
            closed += 1
    return closed


def read_review(session: Session, viewer: Principal, case_id: int, now: datetime) -> ReviewOut:
    case = get_case(session, viewer, case_id)
    review = session.scalars(select(ReviewRequest).where(ReviewRequest.case_id == case.id)).first()
    if review is None:
        raise NotFound(Text("Reviews.none"))
    audit.record(session, viewer, AuditAction.READ_REVIEW, now, case.id)
    return ReviewOut(
        submitted_at=review.submitted_at,
        applicant_party_id=review.party_id,
        reasons=review.reasons,
        outcome=review.outcome,
        decision_note=review.decision_note,
        decided_at=review.decided_at,
        outcome_label=ReviewOutcome(review.outcome).label() if review.outcome else None,
        decide_by=None if review.outcome else decision_due_on(review.submitted_at),
        days_left=None if review.outcome else days_left(decision_due_on(review.submitted_at), now),
    )
