"""定损理赔: a party sends the claim to its compulsory insurer (issue 5 adds the webhook)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.auth.principal import Principal
from kuaichu.cases import lifecycle
from kuaichu.cases.access import get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState
from kuaichu.claims.models import Claim
from kuaichu.errors import Conflict, Forbidden, IllegalTransition, InvalidInput


def push_claim(session: Session, party: Principal, case_id: int, now: datetime) -> Claim:
    case = get_case(session, party, case_id, lock=True)
    claimant = party_of(case, party)
    if claimant is None:
        raise Forbidden("只有事故当事人可以提交理赔")
    if not claimant.insurer_code:
        raise InvalidInput("未登记交强险承保公司，无法推送理赔")
    if session.scalars(
        select(Claim.id).where(Claim.case_id == case.id, Claim.party_id == claimant.id)
    ).first():
        raise Conflict("您已提交过理赔")
    detail = {"insurer_code": claimant.insurer_code}
    if case.state == CaseState.CLOSED:
        # The other party's claim already closed the case; later claims just join it.
        lifecycle.record_event(session, case, "push_claim", party, now, detail)
    elif case.state == CaseState.DETERMINED:
        lifecycle.apply(session, case, Action.PUSH_CLAIM, party, now, detail)
    else:
        raise IllegalTransition("案件尚未作出认定，暂不能提交理赔", state=case.state)
    claim = Claim(case_id=case.id, party_id=claimant.id, insurer_code=claimant.insurer_code, pushed_at=now)
    session.add(claim)
    session.flush()
    return claim


def claims_of_insurer(session: Session, insurer: Principal, now: datetime) -> list[Claim]:
    audit.record(session, insurer, "list_claims", now)
    return list(
        session.scalars(select(Claim).where(Claim.insurer_code == insurer.insurer_code).order_by(Claim.id))
    )
