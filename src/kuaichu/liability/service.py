"""后台定责: the officer's determination (art. 60) and its delivery to the parties."""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.lifecycle import Action, Edit, EventKind
from kuaichu.cases.models import Case
from kuaichu.documents.service import order_document
from kuaichu.errors import Forbidden, InvalidInput
from kuaichu.legal import Citation
from kuaichu.liability.grades import DeterminationStatus, Responsibility, combination_error
from kuaichu.liability.models import Determination, LiabilityFacts
from kuaichu.liability.rules import ART_60_2, RULES_MAX_VEHICLES, Act, Proposal, propose
from kuaichu.liability.schemas import DeterminationIn, LiabilityFactsIn, ProposalOut, ProposedShareOut
from kuaichu.messages import DEFAULT_LOCALE, Locale, Text, reader_locale, text
from kuaichu.notify.parties import notify_parties, push_case_event
from kuaichu.notify.templates import Sms
from kuaichu.principal import Principal, Role

MIN_REASON_CHARS = 4


# Built once: every view of a case reads it.
_DETERMINATIONS = Determination.__table__.c
_IN_FORCE_OF_CASE = and_(
    _DETERMINATIONS.case_id == bindparam("case_id"), _DETERMINATIONS.status == DeterminationStatus.IN_FORCE
)
_IN_FORCE = select(Determination).where(_IN_FORCE_OF_CASE).order_by(Determination.id.desc())
# What a case's view shows of it, on the table's columns: loading the entity costs twice as much.
InForceTerms = Row[tuple[int, datetime, datetime, list[dict[str, object]], int | None]]
_IN_FORCE_TERMS = (
    select(
        _DETERMINATIONS.id,
        _DETERMINATIONS.decided_at,
        _DETERMINATIONS.delivered_at,
        _DETERMINATIONS.shares,
        _DETERMINATIONS.replaces_id,
    )
    .where(_IN_FORCE_OF_CASE)
    .order_by(_DETERMINATIONS.id.desc())
    .limit(1)
)


def in_force_determination(session: Session, case_id: int) -> Determination | None:
    return session.scalars(_IN_FORCE, {"case_id": case_id}).first()


def in_force_terms(session: Session, case_id: int) -> InForceTerms | None:
    """The determination in force as a case's view shows it."""
    return session.execute(_IN_FORCE_TERMS, {"case_id": case_id}).first()


def ensure_not_revoked_officer(session: Session, case: Case, officer: Principal) -> None:
    """art. 74: a determination revoked on review is made anew by another officer."""
    revoked = select(Determination.officer_id).where(
        Determination.case_id == case.id, Determination.status == DeterminationStatus.REVOKED
    )
    if officer.id in set(session.scalars(revoked)):
        raise Forbidden(Text("Liability.revoked_officer"))


def record_facts(
    session: Session, staff: Principal, case_id: int, facts: LiabilityFactsIn, now: datetime
) -> None:
    """Which party did what: the operator in the call, or the officer from the evidence."""
    case = get_case(session, staff, case_id, lock=True)
    ensure_may_write(case, staff, WriteRule.ACTS)
    if staff.role is Role.OFFICER:
        ensure_not_revoked_officer(session, case, staff)
    lifecycle.ensure_editable(case, Edit.ACTS, staff)
    positions = {p.position for p in case.parties}
    unknown = sorted({p.position for p in facts.parties} - positions)
    if unknown:
        raise InvalidInput(Text("Liability.no_such_party", position=unknown[0]))
    parties = {
        str(p.position): {"acts": [a.value for a in p.acts], "impact_point": p.impact_point}
        for p in facts.parties
    }
    row = session.get(LiabilityFacts, case.id)
    if row is None:
        session.add(LiabilityFacts(case_id=case.id, parties=parties, recorded_at=now))
    else:
        row.parties, row.recorded_at = parties, now
    lifecycle.record_event(
        session, case, EventKind.LIABILITY_FACTS_RECORDED, staff, now, {"parties": parties}
    )


def recorded_facts(session: Session, case_id: int) -> dict[str, Any]:
    row = session.get(LiabilityFacts, case_id)
    return row.parties if row else {}


def proposal_for(session: Session, case: Case, parking: Responsibility) -> Proposal | None:
    facts = recorded_facts(session, case.id)
    acts = {int(position): {Act(a) for a in entry["acts"]} for position, entry in facts.items()}
    return propose(case.accident_type, acts, [p.position for p in case.parties], parking)


def read_proposal(
    session: Session, officer: Principal, case_id: int, parking: Responsibility, now: datetime
) -> ProposalOut:
    case = get_case(session, officer, case_id)
    audit.record(session, officer, AuditAction.READ_LIABILITY_PROPOSAL, now, case.id)
    proposal = proposal_for(session, case, parking)
    locale = reader_locale()
    if proposal is None:
        no_rule = _no_rule(case).render(locale)
        return ProposalOut(rule=None, label=None, basis=None, shares=[], message=no_rule)
    return ProposalOut(
        rule=proposal.rule.code,
        label=proposal.rule.wording.render(locale),
        basis=proposal.basis.render(locale),
        shares=[
            ProposedShareOut(
                party_id=p.id,
                position=p.position,
                name=p.name,
                responsibility=proposal.shares[p.position],
                responsibility_label=proposal.shares[p.position].label(),
            )
            for p in case.parties
        ],
        message=text("Liability.suggestion", locale, proposal=proposal.describe(locale)),
    )


def _no_rule(case: Case) -> Text:
    """Why the officer grades alone: beyond two vehicles no rule proposes, else none fitted."""
    vehicles = len(case.parties)
    if vehicles > RULES_MAX_VEHICLES:
        return Text("Liability.no_rule_many_vehicles", vehicles=vehicles, article=Citation(ART_60_2))
    return Text("Liability.no_rule")


def determine(
    session: Session,
    officer: Principal,
    case_id: int,
    decision: DeterminationIn,
    now: datetime,
    parking: Responsibility = Responsibility.FULL,
) -> Case:
    case = get_case(session, officer, case_id, lock=True)
    ensure_may_write(case, officer, WriteRule.DETERMINATION)
    ensure_not_revoked_officer(session, case, officer)
    _check_shares(case, decision)
    if len(decision.reasoning.strip()) < MIN_REASON_CHARS:
        # art. 22: the document states the facts and why each party bears its share.
        raise InvalidInput(Text("Liability.reasoning_required", chars=MIN_REASON_CHARS))
    proposal = proposal_for(session, case, parking)
    accepted = None if proposal is None else _matches(case, proposal, decision)
    override_reason = (decision.override_reason or "").strip()
    if proposal is not None and accepted is False and len(override_reason) < 2:
        said = Text("Liability.proposal", rule=proposal.rule.wording, basis=proposal.basis)
        raise InvalidInput(Text("Liability.override_reason_required", proposal=said))
    lifecycle.apply(
        session,
        case,
        Action.DETERMINE,
        officer,
        now,
        {"proposal_rule": proposal.rule.code if proposal else None, "proposal_accepted": accepted},
    )
    previous = session.scalars(
        select(Determination)
        .where(Determination.case_id == case.id, Determination.status == DeterminationStatus.REVOKED)
        .order_by(Determination.id.desc())
    ).first()
    assert officer.id is not None
    determination = Determination(
        case_id=case.id,
        officer_id=officer.id,
        decided_at=now,
        delivered_at=now,
        status=DeterminationStatus.IN_FORCE,
        replaces_id=previous.id if previous else None,
        shares=[s.model_dump(mode="json") for s in decision.shares],
        reasoning=decision.reasoning.strip(),
        proposal=None if proposal is None else _stored(proposal),
        proposal_accepted=accepted,
        override_reason=override_reason if accepted is False else None,
    )
    session.add(determination)
    session.flush()
    # The document is made and signed after this commits (documents.DocumentJob); the parties'
    # SMS carries its number, so it goes out with the stored document. The pages reread now.
    order_document(session, case, determination, now)
    push_case_event(session, case, Action.DETERMINE, now)
    return case


def _stored(proposal: Proposal) -> dict[str, Any]:
    """The proposal as the determination keeps it: its wording and basis in Chinese for the
    record, and the keys that say them again in any reader's language (`said_rule`)."""
    return {
        "rule": proposal.rule.code,
        "basis": proposal.basis.render(DEFAULT_LOCALE),
        "label": proposal.rule.wording.render(DEFAULT_LOCALE),
        "shares": {str(k): v.value for k, v in proposal.shares.items()},
        "wording": proposal.rule.wording.key,
        "article": proposal.rule.basis,
        "list_item": proposal.rule.list_item,
    }


def said_rule(stored: dict[str, Any] | None, locale: Locale) -> tuple[str | None, str | None]:
    """The stored proposal's rule and its basis in `locale`; a determination stored before the
    keys were kept reads in the Chinese it stored."""
    if not stored:
        return None, None
    if "wording" not in stored:
        return stored.get("label"), stored.get("basis")
    basis = Text("Liability.basis", article=Citation(stored["article"]), item=stored["list_item"])
    return text(stored["wording"], locale), basis.render(locale)


def _matches(case: Case, proposal: Proposal, decision: DeterminationIn) -> bool:
    by_id = {s.party_id: s.responsibility for s in decision.shares}
    return all(by_id.get(p.id) == proposal.shares[p.position] for p in case.parties)


def _check_shares(case: Case, decision: DeterminationIn) -> None:
    party_ids = {p.id for p in case.parties}
    given = [s.party_id for s in decision.shares]
    if sorted(given) != sorted(party_ids):
        raise InvalidInput(Text("Liability.one_share_each"))
    error = combination_error([s.responsibility for s in decision.shares])
    if error:
        raise InvalidInput(error)


def send_back(session: Session, officer: Principal, case_id: int, reason: str, now: datetime) -> Case:
    """退回补充证据: the evidence does not support a determination; the parties call back
    into the same case with one tap and go to the head of the queue."""
    case = get_case(session, officer, case_id, lock=True)
    ensure_may_write(case, officer, WriteRule.DETERMINATION)
    ensure_not_revoked_officer(session, case, officer)
    lifecycle.apply(session, case, Action.SEND_BACK, officer, now, {"reason": reason})
    notify_parties(session, case, Sms.SEND_BACK, now)
    return case


def to_ordinary_procedure(
    session: Session, officer: Principal, case_id: int, reason: str, now: datetime
) -> Case:
    """转一般程序: not a case for the simplified procedure of art. 19 after all."""
    case = get_case(session, officer, case_id, lock=True)
    ensure_may_write(case, officer, WriteRule.DETERMINATION)
    ensure_not_revoked_officer(session, case, officer)
    lifecycle.apply(session, case, Action.TO_ORDINARY_PROCEDURE, officer, now, {"reason": reason})
    notify_parties(session, case, Sms.ORDINARY_PROCEDURE, now)
    return case
