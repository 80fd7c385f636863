"""Who may see which case, and who may write to it: the one place role AND ownership scope a
case query, and the one table of write rules every write route passes through.

Anything outside a principal's scope is reported as not found, so its existence doesn't leak;
a case within scope that the principal may not write is forbidden.
"""

from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, bindparam, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from kuaichu.cases.models import Case, CaseParty
from kuaichu.errors import Forbidden, NotFound
from kuaichu.messages import Text
from kuaichu.principal import Principal, Role


def visible_to(principal: Principal) -> ColumnElement[bool]:
    # get_case keeps these staff rules prepared (_PREPARED, below): a change here goes there too.
    match principal.role:
        case Role.PARTY:
            own = _own_phone(CaseParty.phone, CaseParty.phone_key, principal)
            named = exists().where(CaseParty.case_id == Case.id, own)
            return or_(_own_phone(Case.reporter_phone, Case.reporter_phone_key, principal), named)
        case Role.OPERATOR | Role.OFFICER:
            return Case.jurisdiction_id == principal.jurisdiction_id
        case Role.REVIEWER | Role.SUPERVISOR | Role.ADMIN | Role.SYSTEM:
            return true()
        case Role.INSURER if _insurer_scope is not None:
            return _insurer_scope(principal)
        case Role.INSURER_AGENT if _agent_scope is not None:
            return _agent_scope(principal)
    return false()


# An insurer sees the cases it holds a claim on. Claims are built on cases, so the claims
# package says which (kuaichu.claims registers its scope when imported) and this module needs
# nothing above cases; until then an insurer sees nothing.
InsurerScope = Callable[[Principal], ColumnElement[bool]]
_insurer_scope: InsurerScope | None = None


def register_insurer_scope(scope: InsurerScope) -> None:
    global _insurer_scope
    _insurer_scope = scope


# An insurer's agent sees the cases their insurer was invited into (a call's insurer seat) or
# holds a claim on; kuaichu.seats registers the scope, as claims does the insurer's.
_agent_scope: InsurerScope | None = None


def register_agent_scope(scope: InsurerScope) -> None:
    global _agent_scope
    _agent_scope = scope


def visible_cases(principal: Principal) -> Select[tuple[Case]]:
    # Parties load lazily, only where a rule or a view needs them: most transitions don't.
    return select(Case).where(visible_to(principal))


# A staff member's case by id, built once (the visibility clause of `visible_to`, for the
# roles most requests come from): building it per request cost more than running it.
_IN_JURISDICTION = select(Case).where(
    Case.id == bindparam("case_id"), Case.jurisdiction_id == bindparam("jurisdiction_id")
)
_ANY = select(Case).where(Case.id == bindparam("case_id"))
_PREPARED = {
    Role.OPERATOR: _IN_JURISDICTION,
    Role.OFFICER: _IN_JURISDICTION,
    **dict.fromkeys((Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN, Role.SYSTEM), _ANY),
}
_PREPARED_LOCKED = {role: query.with_for_update(of=Case) for role, query in _PREPARED.items()}


def get_case(session: Session, principal: Principal, case_id: int, *, lock: bool = False) -> Case:
    """Load a case the principal may see; `lock` takes the row lock a transition needs."""
    prepared = (_PREPARED_LOCKED if lock else _PREPARED).get(principal.role)
    if prepared is not None:
        parameters = {"case_id": case_id, "jurisdiction_id": principal.jurisdiction_id}
        case = session.scalars(prepared, parameters).first()
    else:
        query = visible_cases(principal).where(Case.id == case_id)
        case = session.scalars(query.with_for_update(of=Case) if lock else query).first()
    if case is None:
        raise NotFound(Text("Cases.not_found"))
    return case


def _own_phone(
    phone: InstrumentedAttribute[str], key: InstrumentedAttribute[str | None], principal: Principal
) -> ColumnElement[bool]:
    """The party's phone, or its keyed hash once retention masked the phone (the case's legal
    record, its document, stays reachable by its parties: 个人信息保护法 art. 45, 47)."""
    if principal.phone_key is None:
        return phone == principal.phone
    return or_(phone == principal.phone, key == principal.phone_key)


def _is_own(phone: str, key: str | None, principal: Principal) -> bool:
    if principal.phone is not None and phone == principal.phone:
        return True
    return principal.phone_key is not None and key == principal.phone_key


def is_reporter(case: Case, principal: Principal) -> bool:
    return _is_own(case.reporter_phone, case.reporter_phone_key, principal)


def party_of(case: Case, principal: Principal) -> CaseParty | None:
    return next((p for p in case.parties if _is_own(p.phone, p.phone_key, principal)), None)


# Who may write: one rule per write, every write route's service passes through
# `ensure_may_write`. The case's states stay with the lifecycle (cases/lifecycle.py): a rule
# says who may touch this case at all, the lifecycle says whether the case can take it now.


class WriteRule(StrEnum):
    # No login yet (codes, logins, the public verify page): nothing of anyone's to protect.
    PUBLIC = "public"
    # Anyone logged in, about their own session only (logout).
    OWN_SESSION = "own_session"
    # A party acting in their own name with no case yet: report, consent, propose a settlement.
    PARTY_SELF = "party_self"
    # A party of the case: its reporter or a named party (abandon, call back, call mode,
    # settlement answer, review application, claim). Services may narrow it further (only the
    # reporter abandons, only the other side answers a settlement).
    PARTY_OF_CASE = "party_of_case"
    # An operator about their own desk: presence, take the next call.
    OPERATOR_SELF = "operator_self"
    # An operator of the case's jurisdiction takes a queued case (the lifecycle says queued).
    OPERATOR_OF_JURISDICTION = "operator_of_jurisdiction"
    # The operator handling the call (case.operator_id) and no one else: the call's own acts
    # (collection complete, evacuate, transfer, hang up). A supervisor does not act in place of
    # the operator here: the operator is the one on the video with the parties, and the
    # lifecycle gives these transitions to the operator role alone.
    HANDLING_OPERATOR = "handling_operator"
    # A live call's collection data (facts, parties, circumstances, registry checks): the
    # operator handling the call, or a supervisor. A supervisor may correct or complete the
    # data in place of the operator (a console that crashed, a mistake seen on replay), but
    # never another operator, even of the same jurisdiction.
    COLLECTION = "collection"
    # Evidence: COLLECTION, or a party of the case (photo mode, photos while waiting).
    EVIDENCE = "evidence"
    # Each party's acts for the liability rules: COLLECTION during the call, or afterwards an
    # officer who may determine the case (DETERMINATION).
    ACTS = "acts"
    # Determine, send back, move to the ordinary procedure: an officer of the case's
    # jurisdiction, and not one whose determination of this case was revoked on review (art. 74).
    DETERMINATION = "determination"
    # Decide a review: a reviewer, never the officer who made the determination under review.
    REVIEW = "review"
    # An insurer about a claim pushed to it.
    INSURER_OF_CLAIM = "insurer_of_claim"
    # A seat in the call's room on the media server (the call's recording is evidence): who may
    # add the case's evidence (EVIDENCE), or an agent of an insurer invited into the call, who
    # sees and speaks but writes nothing (their invitation is kuaichu.seats' look-up).
    CALL_SEAT = "call_seat"
    # An insurer's agent about their own seat in a call their insurer was invited into (leave).
    INSURER_SEAT = "insurer_seat"
    # Supervision: resend a dead letter, pause or resume a jurisdiction's service.
    SUPERVISION = "supervision"


# The rules that need no case; every other rule is checked against one.
CASELESS_RULES = frozenset(
    {
        WriteRule.PUBLIC,
        WriteRule.OWN_SESSION,
        WriteRule.PARTY_SELF,
        WriteRule.OPERATOR_SELF,
        WriteRule.SUPERVISION,
    }
)

# The roles each rule admits at all; ownership is checked on the case below.
RULE_ROLES: dict[WriteRule, frozenset[Role]] = {
    WriteRule.PUBLIC: frozenset(Role),
    WriteRule.OWN_SESSION: frozenset(Role),
    WriteRule.PARTY_SELF: frozenset({Role.PARTY}),
    WriteRule.PARTY_OF_CASE: frozenset({Role.PARTY}),
    WriteRule.OPERATOR_SELF: frozenset({Role.OPERATOR}),
    WriteRule.OPERATOR_OF_JURISDICTION: frozenset({Role.OPERATOR}),
    WriteRule.HANDLING_OPERATOR: frozenset({Role.OPERATOR}),
    WriteRule.COLLECTION: frozenset({Role.OPERATOR, Role.SUPERVISOR}),
    WriteRule.EVIDENCE: frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.PARTY}),
    WriteRule.ACTS: frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.OFFICER}),
    WriteRule.DETERMINATION: frozenset({Role.OFFICER}),
    WriteRule.REVIEW: frozenset({Role.REVIEWER}),
    WriteRule.INSURER_OF_CLAIM: frozenset({Role.INSURER}),
    WriteRule.CALL_SEAT: frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.PARTY, Role.INSURER_AGENT}),
    WriteRule.INSURER_SEAT: frozenset({Role.INSURER_AGENT}),
    WriteRule.SUPERVISION: frozenset({Role.SUPERVISOR, Role.ADMIN}),
}


def ensure_may_write(case: Case | None, principal: Principal, rule: WriteRule) -> None:
    """Raise unless `principal` may make a write governed by `rule` on `case` (None for the
    caseless rules). The case was loaded with `get_case`, so it is already within the
    principal's scope: what is refused here is a case they may see but not write."""
    if principal.role not in RULE_ROLES[rule]:
        raise Forbidden(read_only_refusal(principal))
    if rule in CASELESS_RULES:
        return
    if case is None:
        raise NotFound(Text("Cases.not_found"))
    match rule:
        case WriteRule.PARTY_OF_CASE:
            _ensure_party_of_case(case, principal)
        case WriteRule.OPERATOR_OF_JURISDICTION:
            _ensure_jurisdiction(case, principal)
        case WriteRule.HANDLING_OPERATOR:
            _ensure_handling(case, principal)
        case WriteRule.COLLECTION:
            _ensure_collection(case, principal)
        case WriteRule.EVIDENCE | WriteRule.CALL_SEAT if principal.role is not Role.INSURER_AGENT:
            if principal.role is Role.PARTY:
                _ensure_party_of_case(case, principal)
            else:
                _ensure_collection(case, principal)
        case WriteRule.ACTS:
            if principal.role is Role.OFFICER:
                _ensure_jurisdiction(case, principal)
            else:
                _ensure_collection(case, principal)
        case WriteRule.DETERMINATION:
            _ensure_jurisdiction(case, principal)
        # REVIEW (not the officer who determined) and the officer of a revoked determination
        # are liability's and reviews' checks; INSURER_OF_CLAIM's claim is the insurer's own
        # by claims' look-up, its case within the insurer's scope by get_case; an agent's
        # invitation (CALL_SEAT, INSURER_SEAT) is kuaichu.seats' look-up.


def read_only_refusal(principal: Principal) -> Text:
    """Why a write is refused to a role: an insurer's agent is told they see and speak only."""
    if principal.role is Role.INSURER_AGENT:
        return Text("Cases.agent_read_only")
    return Text("Cases.role_may_not")


def _ensure_party_of_case(case: Case, principal: Principal) -> None:
    if not is_reporter(case, principal) and party_of(case, principal) is None:
        raise NotFound(Text("Cases.not_found"))


def _ensure_jurisdiction(case: Case, principal: Principal) -> None:
    if principal.jurisdiction_id is None or case.jurisdiction_id != principal.jurisdiction_id:
        raise NotFound(Text("Cases.not_found"))


def _ensure_handling(case: Case, principal: Principal) -> None:
    _ensure_jurisdiction(case, principal)
    if principal.id is None or case.operator_id != principal.id:
        raise Forbidden(Text("Cases.handling_operator_only"))


def _ensure_collection(case: Case, principal: Principal) -> None:
    if principal.role is not Role.SUPERVISOR:
        _ensure_handling(case, principal)


# Every write route of the API (POST, PUT, PATCH, DELETE) and the rule its service applies.
# tests/test_access_matrix.py fails for a write route missing here, and walks each rule with
# every role, owner and not owner.
W = WriteRule
WRITE_ROUTES: dict[tuple[str, str], WriteRule] = {
    ("POST", "/api/auth/sms-code"): W.PUBLIC,
    ("POST", "/api/auth/party"): W.PUBLIC,
    ("POST", "/api/auth/staff"): W.PUBLIC,
    ("POST", "/api/auth/refresh"): W.PUBLIC,
    ("POST", "/api/auth/logout"): W.OWN_SESSION,
    ("POST", "/api/auth/ws-ticket"): W.OWN_SESSION,
    ("POST", "/verify/{number}"): W.PUBLIC,
    ("POST", "/api/consents"): W.PARTY_SELF,
    ("PUT", "/api/me/locale"): W.PARTY_SELF,
    ("POST", "/api/calls"): W.PARTY_SELF,
    ("POST", "/api/settlements"): W.PARTY_SELF,
    ("POST", "/api/cases/{case_id}/abandon"): W.PARTY_OF_CASE,
    ("POST", "/api/calls/{case_id}/abandon"): W.PARTY_OF_CASE,
    ("PUT", "/api/calls/{case_id}/mode"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/call-back"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/settlement/confirm"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/settlement/reject"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/review"): W.PARTY_OF_CASE,
    # A party's own confirmation of the recorded facts: staff never sign or dispute for them.
    ("POST", "/api/cases/{case_id}/signature"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/dispute"): W.PARTY_OF_CASE,
    ("POST", "/api/cases/{case_id}/claim"): W.PARTY_OF_CASE,
    ("PUT", "/api/operators/me/presence"): W.OPERATOR_SELF,
    ("POST", "/api/calls/take-next"): W.OPERATOR_SELF,
    ("POST", "/api/cases/{case_id}/take"): W.OPERATOR_OF_JURISDICTION,
    ("POST", "/api/cases/{case_id}/collection-complete"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/evacuate"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/transfer"): W.HANDLING_OPERATOR,
    ("POST", "/api/calls/{case_id}/hangup"): W.HANDLING_OPERATOR,
    ("PUT", "/api/cases/{case_id}/facts"): W.COLLECTION,
    ("PUT", "/api/cases/{case_id}/parties"): W.COLLECTION,
    ("PUT", "/api/cases/{case_id}/circumstances"): W.COLLECTION,
    ("POST", "/api/cases/{case_id}/checks"): W.COLLECTION,
    ("POST", "/api/cases/{case_id}/evidence"): W.EVIDENCE,
    # Has OCR read a plate or licence still: it stores only what the still shows.
    ("POST", "/api/cases/{case_id}/readings/{evidence_id}"): W.COLLECTION,
    # A seat in the call's room on the media server: the call's recording is evidence; an
    # invited insurer's agent sits there too, to see and speak.
    ("POST", "/api/cases/{case_id}/media-pass"): W.CALL_SEAT,
    ("POST", "/api/cases/{case_id}/insurer-invitations"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/insurer-seat/leave"): W.INSURER_SEAT,
    ("PUT", "/api/cases/{case_id}/liability-facts"): W.ACTS,
    ("POST", "/api/cases/{case_id}/determination"): W.DETERMINATION,
    ("POST", "/api/cases/{case_id}/send-back"): W.DETERMINATION,
    ("POST", "/api/cases/{case_id}/ordinary-procedure"): W.DETERMINATION,
    ("POST", "/api/cases/{case_id}/review/decision"): W.REVIEW,
    ("POST", "/api/insurer/claims/{claim_id}/progress"): W.INSURER_OF_CLAIM,
    ("POST", "/api/supervision/dead-letters/{message_id}/resend"): W.SUPERVISION,
    ("PUT", "/api/supervision/jurisdictions/{jurisdiction_code}/service"): W.SUPERVISION,
    # The case's join link (kuaichu.invitations): the operator on the call sends, revokes, admits
    # and refuses; a party asks to join with the link's token; a 122 caller's case is opened.
    ("POST", "/api/cases/{case_id}/join-link/sms"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/join-link/revoke"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/joins/admit"): W.HANDLING_OPERATOR,
    ("POST", "/api/cases/{case_id}/joins/refuse"): W.HANDLING_OPERATOR,
    ("POST", "/api/joins"): W.PARTY_SELF,
    ("POST", "/api/calls/phone-report"): W.OPERATOR_SELF,
}
