"""后台定责: the officer's determination (art. 60) and its delivery to the parties."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.principal import Principal
from kuaichu.cases import lifecycle
from kuaichu.cases.access import get_case
from kuaichu.cases.lifecycle import Action
from kuaichu.cases.models import Case
from kuaichu.cases.service import notify_parties
from kuaichu.errors import Forbidden, InvalidInput
from kuaichu.liability.grades import LABELS, combination_error
from kuaichu.liability.models import Determination
from kuaichu.liability.schemas import DeterminationIn


def officers_of_revoked(session: Session, case_id: int) -> set[int]:
    return set(
        session.scalars(
            select(Determination.officer_id).where(
                Determination.case_id == case_id, Determination.status == "revoked"
            )
        )
    )


def determine(
    session: Session, officer: Principal, case_id: int, decision: DeterminationIn, now: datetime
) -> Case:
    case = get_case(session, officer, case_id, lock=True)
    _check_shares(case, decision)
    revoked_by = officers_of_revoked(session, case.id)
    if officer.id in revoked_by:
        # art. 74: a determination revoked on review is made anew by another officer.
        raise Forbidden("原认定已被复核撤销，须由其他民警重新认定")
    lifecycle.apply(session, case, Action.DETERMINE, officer, now)
    previous = session.scalars(
        select(Determination)
        .where(Determination.case_id == case.id, Determination.status == "revoked")
        .order_by(Determination.id.desc())
    ).first()
    assert officer.id is not None
    determination = Determination(
        case_id=case.id,
        officer_id=officer.id,
        decided_at=now,
        delivered_at=now,
        status="in_force",
        replaces_id=previous.id if previous else None,
        shares=[s.model_dump(mode="json") for s in decision.shares],
        reasoning=decision.reasoning,
    )
    session.add(determination)
    session.flush()
    summary = "；".join(
        f"{p.name}（{p.plate_number}）{LABELS[s.responsibility]}"
        for s in decision.shares
        for p in case.parties
        if p.id == s.party_id
    )
    notify_parties(
        session,
        case,
        "determined",
        f"【快处】事故{case.number}已作出认定：{summary}。如对认定有异议，可自送达之日起三日内"
        "提出书面复核申请。",
        now,
    )
    return case


def _check_shares(case: Case, decision: DeterminationIn) -> None:
    party_ids = {p.id for p in case.parties}
    given = [s.party_id for s in decision.shares]
    if sorted(given) != sorted(party_ids):
        raise InvalidInput("须为每一方当事人各认定一次责任")
    error = combination_error([s.responsibility for s in decision.shares])
    if error:
        raise InvalidInput(error)
