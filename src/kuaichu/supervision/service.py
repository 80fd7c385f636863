"""监管: replay any case, timings against the 5- and 8-minute targets, queue health, staffing."""

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.audit.models import AuditEntry
from kuaichu.auth.models import Insurer, User
from kuaichu.calls.models import OperatorPresence
from kuaichu.calls.schemas import PresenceStatus
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.cases.views import timeline_of
from kuaichu.claims.models import Claim
from kuaichu.claims.schemas import ClaimStep
from kuaichu.documents.service import designation, list_documents
from kuaichu.errors import NotFound
from kuaichu.evidence.service import evidence_of
from kuaichu.geo.models import Jurisdiction
from kuaichu.liability.grades import DeterminationStatus, Responsibility
from kuaichu.liability.models import Determination
from kuaichu.liability.service import said_rule
from kuaichu.messages import Text, reader_locale, text
from kuaichu.notify import dead_letters as letters
from kuaichu.principal import Principal, Role
from kuaichu.progress.views import case_view
from kuaichu.registries.service import latest_checks
from kuaichu.reviews.models import ReviewRequest
from kuaichu.reviews.schemas import ReviewOutcome
from kuaichu.seats.service import presences
from kuaichu.supervision.schemas import (
    AuditLine,
    CaseReplay,
    Distribution,
    PresenceCount,
    QueueHealth,
    StaffingOut,
    Timings,
)
from kuaichu.supervision.staffing import operators_needed, staffing

# The reference (交管12123 事故视频快处): information collected in 5 minutes, determination in 8.
COLLECTION_TARGET = timedelta(minutes=5)
DETERMINATION_TARGET = timedelta(minutes=8)
QUEUE_WAIT_TARGET = timedelta(seconds=30)
DEFAULT_HANDLING = timedelta(minutes=5)


def resend_dead_letter(session: Session, supervisor: Principal, message_id: int, now: datetime) -> None:
    """A dead letter back to the outbox (the notify layer sits below the case rules)."""
    ensure_may_write(None, supervisor, WriteRule.SUPERVISION)
    letters.resend(session, supervisor, message_id, now)


def replay(session: Session, supervisor: Principal, case_id: int, now: datetime) -> CaseReplay:
    case = get_case(session, supervisor, case_id)
    audit.record(session, supervisor, AuditAction.REPLAY_CASE, now, case.id)
    determinations = session.scalars(
        select(Determination).where(Determination.case_id == case.id).order_by(Determination.id)
    )
    review = session.scalars(select(ReviewRequest).where(ReviewRequest.case_id == case.id)).first()
    claims = session.scalars(select(Claim).where(Claim.case_id == case.id).order_by(Claim.id))
    access = session.scalars(select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id))
    insurers = {code: name for code, name in session.execute(select(Insurer.code, Insurer.name))}
    names = {p.id: f"{designation(p.position)} {p.name}" for p in case.parties}
    locale = reader_locale()
    return CaseReplay(
        case=case_view(session, case, supervisor),
        timeline=timeline_of(session, case, supervisor),
        evidence=evidence_of(session, case),
        registry_checks=latest_checks(session, supervisor, case.id),
        determinations=[
            {
                "id": d.id,
                "officer_id": d.officer_id,
                "decided_at": d.decided_at.isoformat(),
                "status": d.status,
                "status_label": DeterminationStatus(d.status).label(),
                "replaces_id": d.replaces_id,
                "shares": [
                    {
                        **s,
                        "party": names.get(int(str(s["party_id"])), ""),
                        "responsibility_label": Responsibility(str(s["responsibility"])).label(),
                    }
                    for s in d.shares
                ],
                "reasoning": d.reasoning,
                "rule_label": said_rule(d.proposal, locale)[0],
                "proposal_accepted": d.proposal_accepted,
                "override_reason": d.override_reason,
            }
            for d in determinations
        ],
        documents=list_documents(session, supervisor, case.id),
        review=None
        if review is None
        else {
            "submitted_at": review.submitted_at.isoformat(),
            "reasons": review.reasons,
            "outcome": review.outcome,
            "outcome_label": ReviewOutcome(review.outcome).label()
            if review.outcome
            else text("Reviews.pending", locale),
            "reviewer_id": review.reviewer_id,
            "decided_at": review.decided_at.isoformat() if review.decided_at else None,
        },
        claims=[
            {
                "insurer_code": c.insurer_code,
                "insurer_name": insurers.get(c.insurer_code, c.insurer_code),
                "pushed_at": c.pushed_at.isoformat(),
                "status": c.status,
                "status_label": ClaimStep(c.status).label(locale),
            }
            for c in claims
        ],
        access_log=[_audit_line(entry) for entry in access],
        insurer_seats=presences(session, case.id),
    )


def _action_label(action: str) -> str:
    """A read or an administration step (AuditAction), else the timeline event it records."""
    try:
        return AuditAction(action).label()
    except ValueError:
        return lifecycle.event_label(action, reader_locale())


def _audit_line(entry: AuditEntry) -> AuditLine:
    return AuditLine(
        at=entry.at,
        actor_role=entry.actor_role,
        role_label=Role(entry.actor_role).label(),
        actor_label=entry.actor_label,
        address=entry.address,
        action=entry.action,
        action_label=_action_label(entry.action),
        detail=entry.detail,
    )


def _distribution(durations: list[float], target: timedelta) -> Distribution:
    buckets = [0] * 11  # 0-1 min, ..., 9-10 min, 10+ min
    for seconds in durations:
        buckets[min(int(seconds // 60), 10)] += 1
    quantiles = statistics.quantiles(durations, n=10, method="inclusive") if len(durations) > 1 else None
    return Distribution(
        count=len(durations),
        p50_seconds=statistics.median(durations) if durations else None,
        p90_seconds=quantiles[8] if quantiles else (durations[0] if durations else None),
        within_target=(sum(d <= target.total_seconds() for d in durations) / len(durations))
        if durations
        else None,
        target_seconds=target.total_seconds(),
        histogram=buckets,
    )


def _milestones(
    session: Session, since: datetime, jurisdiction_id: int | None
) -> dict[int, dict[str, datetime]]:
    """The first time each case reached each step."""
    query = (
        select(TimelineEvent.case_id, TimelineEvent.kind, func.min(TimelineEvent.at))
        .join(Case, Case.id == TimelineEvent.case_id)
        .where(Case.reported_at >= since, TimelineEvent.kind.in_(("report", "take", "evacuate", "determine")))
        .group_by(TimelineEvent.case_id, TimelineEvent.kind)
    )
    if jurisdiction_id is not None:
        query = query.where(Case.jurisdiction_id == jurisdiction_id)
    steps: dict[int, dict[str, datetime]] = defaultdict(dict)
    for case_id, kind, at in session.execute(query):
        steps[case_id][kind] = at
    return steps


def _between(steps: dict[int, dict[str, datetime]], start: str, end: str) -> list[float]:
    return [(s[end] - s[start]).total_seconds() for s in steps.values() if start in s and end in s]


def timings(session: Session, since: datetime, jurisdiction_id: int | None = None) -> Timings:
    steps = _milestones(session, since, jurisdiction_id)
    return Timings(
        queue_wait=_distribution(_between(steps, "report", "take"), QUEUE_WAIT_TARGET),
        collection=_distribution(_between(steps, "report", "evacuate"), COLLECTION_TARGET),
        determination=_distribution(_between(steps, "report", "determine"), DETERMINATION_TARGET),
    )


def _jurisdiction(session: Session, code: str) -> Jurisdiction:
    jurisdiction = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()
    if jurisdiction is None:
        raise NotFound(Text("Supervision.no_such_jurisdiction", code=code))
    return jurisdiction


def _roster(session: Session, jurisdiction_id: int) -> tuple[int, int]:
    on_roster = session.scalar(
        select(func.count(User.id)).where(
            User.jurisdiction_id == jurisdiction_id, User.role == Role.OPERATOR, User.active.is_(True)
        )
    )
    in_call = session.scalar(
        select(func.count(Case.id)).where(
            Case.jurisdiction_id == jurisdiction_id, Case.state == CaseState.IN_CALL
        )
    )
    return on_roster or 0, in_call or 0


def staffing_for(
    session: Session,
    code: str,
    now: datetime,
    window: timedelta = timedelta(hours=1),
    target_seconds: float = 30,
    target_service_level: float = 0.9,
) -> StaffingOut:
    """Erlang C from the jurisdiction's own recent arrivals and handling times."""
    jurisdiction = _jurisdiction(session, code)
    arrivals = session.scalar(
        select(func.count(Case.id)).where(
            Case.jurisdiction_id == jurisdiction.id, Case.reported_at >= now - window
        )
    )
    handled = _between(_milestones(session, now - window, jurisdiction.id), "take", "evacuate")
    handling = statistics.mean(handled) if handled else DEFAULT_HANDLING.total_seconds()
    calls_per_hour = (arrivals or 0) / (window.total_seconds() / 3600)
    needed = operators_needed(calls_per_hour, handling, target_seconds, target_service_level)
    on_roster, in_call = _roster(session, jurisdiction.id)
    with_roster = staffing(max(on_roster, 1), calls_per_hour, handling, target_seconds)
    return StaffingOut(
        jurisdiction_code=code,
        calls_per_hour=calls_per_hour,
        handling_seconds=handling,
        target_seconds=target_seconds,
        target_service_level=target_service_level,
        operators_needed=needed.operators,
        operators_on_roster=on_roster,
        operators_in_call=in_call,
        predicted_service_level_with_roster=with_roster.service_level if on_roster else 0.0,
    )


def queue_health(session: Session, now: datetime) -> list[QueueHealth]:
    health = []
    for jurisdiction in session.scalars(select(Jurisdiction).order_by(Jurisdiction.code)):
        waiting = session.execute(
            select(func.count(Case.id), func.min(Case.reported_at)).where(
                Case.jurisdiction_id == jurisdiction.id, Case.state == CaseState.QUEUED
            )
        ).one()
        oldest = waiting[1]
        on_roster, in_call = _roster(session, jurisdiction.id)
        by_state = session.execute(
            select(OperatorPresence.status, func.count(OperatorPresence.operator_id))
            .where(OperatorPresence.jurisdiction_id == jurisdiction.id)
            .group_by(OperatorPresence.status)
        )
        counts: dict[str, int] = {status: count for status, count in by_state}
        health.append(
            QueueHealth(
                jurisdiction_code=jurisdiction.code,
                jurisdiction_name=jurisdiction.name,
                waiting=waiting[0],
                longest_wait_seconds=int((now - oldest).total_seconds()) if oldest else 0,
                operators_on_roster=on_roster,
                operators_in_call=in_call,
                operators_by_state=counts,
                presence=[
                    PresenceCount(status=status.value, label=status.label(), count=counts[status.value])
                    for status in PresenceStatus
                    if counts.get(status.value)
                ],
            )
        )
    return health
