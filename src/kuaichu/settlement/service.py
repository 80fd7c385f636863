"""自行协商: for a simple two-vehicle accident the parties agree on responsibility themselves;
once the other party confirms, each may push the claim to the insurers as after a
determination. A party who does not accept the agreement disputes the facts, and a disputed
accident is handled by police on site (art. 13)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case, party_of
from kuaichu.cases.lifecycle import Action, CaseState
from kuaichu.cases.models import Case, CaseParty
from kuaichu.cases.service import open_case
from kuaichu.errors import Forbidden, InvalidInput, RateLimited
from kuaichu.geo.service import locate
from kuaichu.liability.grades import combination_error
from kuaichu.limit_locks import VALUE_LENGTH, limit_key, lock_limits
from kuaichu.messages import DEFAULT_LOCALE, Text, text
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import Principal
from kuaichu.settlement.models import Agreement
from kuaichu.settlement.schemas import SettlementIn


@dataclass(frozen=True)
class ProposalLimits:
    per_proposer: int
    per_recipient: int
    per_address: int


@dataclass(frozen=True)
class _Notice:
    """Who sends a proposal's official SMS, to whom and from where: what the limits count."""

    proposer: str
    recipient: str
    address: str | None

    def limit_keys(self) -> list[str]:
        keys = [
            limit_key("settlement-proposer", self.proposer),
            limit_key("settlement-recipient", self.recipient),
        ]
        return keys + ([limit_key("settlement-address", self.address)] if self.address else [])


def _check_limits(session: Session, notice: _Notice, limits: ProposalLimits, now: datetime) -> None:
    """Each proposal sends an official SMS to a phone the proposer typed: at most so many a day
    from one phone, to one phone, and from one address (429, nothing sent). The limits' locks
    are taken first, so simultaneous proposals are counted one after the other."""
    lock_limits(session, notice.limit_keys(), now)
    since = now - timedelta(days=1)

    def count(*where: ColumnElement[bool]) -> int:
        return session.scalar(select(func.count()).where(Agreement.proposed_at > since, *where)) or 0

    if count(Agreement.proposed_by_phone == notice.proposer) >= limits.per_proposer:
        raise RateLimited(Text("Settlement.proposer_limit"))
    if count(Agreement.recipient_phone == notice.recipient) >= limits.per_recipient:
        raise RateLimited(Text("Settlement.recipient_limit"))
    if notice.address and count(Agreement.proposed_from == notice.address) >= limits.per_address:
        raise RateLimited(Text("Settlement.address_limit"))


def propose(
    session: Session, party: Principal, proposal: SettlementIn, limits: ProposalLimits, now: datetime
) -> Case:
    ensure_may_write(None, party, WriteRule.PARTY_SELF)
    phones = [p.phone for p in proposal.parties.parties]
    if party.phone is None or party.phone not in phones:
        raise InvalidInput(Text("Settlement.proposer_not_party"))
    if phones[0] == phones[1]:
        raise InvalidInput(Text("Settlement.same_phone"))
    if any(not p.insurer_code for p in proposal.parties.parties):
        raise InvalidInput(Text("Settlement.insurer_missing"))
    if proposal.facts.occurred_at > now:
        raise InvalidInput(Text("Settlement.occurred_in_future"))
    error = combination_error([s.responsibility for s in sorted(proposal.shares, key=lambda s: s.position)])
    if error:
        raise InvalidInput(error)
    recipient = next(phone for phone in phones if phone != party.phone)
    address = party.address[:VALUE_LENGTH] if party.address else None
    _check_limits(session, _Notice(party.phone, recipient, address), limits, now)
    jurisdiction = locate(session, proposal.location.lat, proposal.location.lng)
    point = (proposal.location.lat, proposal.location.lng)
    facts = proposal.facts.model_dump(exclude={"lat", "lng"})
    case = open_case(session, party.phone, jurisdiction, point, CaseState.AGREEMENT_PENDING, now, **facts)
    case.parties = [
        CaseParty(position=position, **p.model_dump())
        for position, p in enumerate(proposal.parties.parties, 1)
    ]
    session.flush()
    by_position = {p.position: p.id for p in case.parties}
    shares = [
        {"party_id": by_position[s.position], "responsibility": s.responsibility.value}
        for s in proposal.shares
    ]
    session.add(
        Agreement(
            case_id=case.id,
            shares=shares,
            proposed_by_phone=party.phone,
            proposed_from=address,
            recipient_phone=recipient,
            proposed_at=now,
        )
    )
    lifecycle.record_event(session, case, "propose_agreement", party, now, {"shares": shares})
    # Only the fixed template: a name or greeting the proposer typed never reaches a stranger.
    notify_parties(session, case, Sms.AGREEMENT_PROPOSED, now)
    return case


def _pending(session: Session, party: Principal, case_id: int) -> tuple[Case, Agreement]:
    case = get_case(session, party, case_id, lock=True)
    ensure_may_write(case, party, WriteRule.PARTY_OF_CASE)
    agreement = session.scalars(select(Agreement).where(Agreement.case_id == case.id)).first()
    if party_of(case, party) is None or agreement is None:
        raise Forbidden(Text("Settlement.only_other_party"))
    if agreement.proposed_by_phone == party.phone:
        raise Forbidden(Text("Settlement.not_the_proposer"))
    return case, agreement


def answer(session: Session, party: Principal, case_id: int, accept: bool, now: datetime) -> Case:
    case, agreement = _pending(session, party, case_id)
    if accept:
        lifecycle.apply(session, case, Action.CONFIRM_AGREEMENT, party, now)
    else:
        lifecycle.apply(session, case, Action.REJECT_AGREEMENT, party, now)
        # Stored for the record, as every transfer reason: in Chinese.
        case.transfer_reason = text("Settlement.disputed", DEFAULT_LOCALE)
    agreement.status = "confirmed" if accept else "rejected"
    agreement.answered_at = now
    notify_parties(session, case, Sms.AGREEMENT_CONFIRMED if accept else Sms.AGREEMENT_REJECTED, now)
    return case


def confirmed_shares(session: Session, case_id: int) -> list[dict[str, object]] | None:
    agreement = session.scalars(
        select(Agreement).where(Agreement.case_id == case_id, Agreement.status == "confirmed")
    ).first()
    return agreement.shares if agreement else None
