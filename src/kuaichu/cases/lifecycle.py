"""The case's states and the only allowed transitions between them (the one owner).

    queued ─► in_call ─► collected ─► evacuated ─► determined ─► closed
       │▲        │                        ▲  │  │     │   ▲
       ││        └─► transferred          │  │  │     ▼   │ upheld
       ││                                 │  │  │   under_review
       └┼─► abandoned                     └──┼──┼── revoked ─┘
        │                                    │  └─► ordinary_procedure (一般程序)
        └── call_back ◄─ more_evidence ◄─────┘ send_back (补充证据)

    in_call ─► queued (requeue: a call dropped beyond its grace period, back at the head)

    自行协商: agreement_pending ─► agreed ─► closed (claim)
                      └─► transferred (the other party disputes it: police on site)

Every change of state goes through `apply`, which checks the current state and the actor's
role, and records the timeline event and the audit entry in the caller's transaction;
services add the outbox rows in that same transaction. What a service may change on a case
without changing its state (its facts, evidence, answers, a claim) is `EDITABLE`'s to say, and
every such service asks `ensure_editable`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.errors import Forbidden, IllegalTransition
from kuaichu.messages import Labelled, Locale, Text
from kuaichu.principal import Principal, Role


class CaseState(Labelled):
    QUEUED = "queued"
    IN_CALL = "in_call"
    COLLECTED = "collected"
    EVACUATED = "evacuated"
    DETERMINED = "determined"
    UNDER_REVIEW = "under_review"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"
    # 自行协商: the parties settle responsibility themselves, without an operator or officer.
    AGREEMENT_PENDING = "agreement_pending"
    AGREED = "agreed"
    # The officer needs more evidence: the parties call back into the same case.
    MORE_EVIDENCE = "more_evidence"
    # Not a simple-procedure case after all: handled under the ordinary procedure (一般程序).
    ORDINARY_PROCEDURE = "ordinary_procedure"


class Action(Labelled):
    TAKE = "take"
    ABANDON = "abandon"
    REQUEUE = "requeue"
    COMPLETE_COLLECTION = "complete_collection"
    EVACUATE = "evacuate"
    TRANSFER = "transfer"
    DETERMINE = "determine"
    REQUEST_REVIEW = "request_review"
    UPHOLD = "uphold"
    REVOKE = "revoke"
    PUSH_CLAIM = "push_claim"
    CLOSE = "close"
    CONFIRM_AGREEMENT = "confirm_agreement"
    REJECT_AGREEMENT = "reject_agreement"
    SEND_BACK = "send_back"
    CALL_BACK = "call_back"
    CANCEL_CALL_BACK = "cancel_call_back"
    TO_ORDINARY_PROCEDURE = "to_ordinary_procedure"
    DISPUTE = "dispute"


class EventKind(Labelled):
    """Timeline events that change no state (a state change's event is its Action)."""

    REPORT = "report"
    FACTS_RECORDED = "facts_recorded"
    PARTIES_RECORDED = "parties_recorded"
    EVIDENCE_ADDED = "evidence_added"
    REGISTRY_CHECKED = "registry_checked"
    CIRCUMSTANCES_RECORDED = "circumstances_recorded"
    LIABILITY_FACTS_RECORDED = "liability_facts_recorded"
    DOCUMENT_ISSUED = "document_issued"
    CLAIM_PROGRESS = "claim_progress"
    CALL_MODE = "call_mode"
    PROPOSE_AGREEMENT = "propose_agreement"
    COLLECTION_OVERRIDE = "collection_override"
    # The operator opened the case for a driver who called 122 (no app): the case's report.
    PHONE_REPORT = "phone_report"
    # Another party joined by the case's link, admitted by the operator: the next party.
    PARTY_JOINED = "party_joined"
    PARTY_SIGNED = "party_signed"


def event_label(kind: str, locale: Locale | None = None) -> str:
    """What a timeline line of `kind` reads as: its action's label, or its event's; in the
    reader's language unless a locale is given."""
    known = _EVENT_KINDS.get(kind)
    return known.label(locale) if known else kind


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseState]
    target: CaseState
    roles: frozenset[Role]


def _t(sources: set[CaseState], target: CaseState, roles: set[Role]) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles))


_EVENT_KINDS: dict[str, Action | EventKind] = {kind.value: kind for kind in (*Action, *EventKind)}

S = CaseState
TRANSITIONS: dict[Action, Transition] = {
    Action.TAKE: _t({S.QUEUED}, S.IN_CALL, {Role.OPERATOR}),
    Action.ABANDON: _t({S.QUEUED}, S.ABANDONED, {Role.PARTY}),
    # A call dropped beyond its grace period goes back to the head of the queue.
    Action.REQUEUE: _t({S.IN_CALL}, S.QUEUED, {Role.SYSTEM}),
    Action.COMPLETE_COLLECTION: _t({S.IN_CALL}, S.COLLECTED, {Role.OPERATOR}),
    Action.EVACUATE: _t({S.COLLECTED}, S.EVACUATED, {Role.OPERATOR}),
    Action.TRANSFER: _t({S.IN_CALL, S.COLLECTED}, S.TRANSFERRED, {Role.OPERATOR}),
    # A party disputes the recorded facts instead of signing them: police on site (art. 13).
    Action.DISPUTE: _t({S.IN_CALL, S.COLLECTED}, S.TRANSFERRED, {Role.PARTY}),
    Action.DETERMINE: _t({S.EVACUATED}, S.DETERMINED, {Role.OFFICER}),
    # The evidence does not suffice: the parties are asked to call back into this case.
    Action.SEND_BACK: _t({S.EVACUATED}, S.MORE_EVIDENCE, {Role.OFFICER}),
    # The party's one tap: the same case goes back to the head of the queue.
    Action.CALL_BACK: _t({S.MORE_EVIDENCE}, S.QUEUED, {Role.PARTY}),
    # Leaving the queue after a call-back keeps the case and its evidence: it waits again.
    Action.CANCEL_CALL_BACK: _t({S.QUEUED}, S.MORE_EVIDENCE, {Role.PARTY}),
    # art. 19 applies only to simple cases; anything else goes to the ordinary procedure.
    Action.TO_ORDINARY_PROCEDURE: _t({S.EVACUATED}, S.ORDINARY_PROCEDURE, {Role.OFFICER}),
    Action.REQUEST_REVIEW: _t({S.DETERMINED}, S.UNDER_REVIEW, {Role.PARTY}),
    Action.UPHOLD: _t({S.UNDER_REVIEW}, S.DETERMINED, {Role.REVIEWER}),
    # A revoked determination sends the case back to be determined anew by another officer.
    Action.REVOKE: _t({S.UNDER_REVIEW}, S.EVACUATED, {Role.REVIEWER}),
    # A claim closes the case only once the determination is final (claims.service).
    Action.PUSH_CLAIM: _t({S.DETERMINED, S.AGREED}, S.CLOSED, {Role.PARTY}),
    # The review period has run out, or the review was decided: the determination is final.
    Action.CLOSE: _t({S.DETERMINED}, S.CLOSED, {Role.SYSTEM}),
    Action.CONFIRM_AGREEMENT: _t({S.AGREEMENT_PENDING}, S.AGREED, {Role.PARTY}),
    # A disputed agreement is a dispute about the facts: police on site (art. 13).
    Action.REJECT_AGREEMENT: _t({S.AGREEMENT_PENDING}, S.TRANSFERRED, {Role.PARTY}),
}


def allowed_actions(state: str, role: Role) -> list[Action]:
    return [a for a, t in TRANSITIONS.items() if state in t.sources and role in t.roles]


def ensure_allowed(case: Case, action: Action, actor: Principal) -> Transition:
    """Raise unless `actor` may take `action` on the case in its current state."""
    transition = TRANSITIONS[action]
    if actor.role not in transition.roles:
        raise Forbidden(Text("Lifecycle.role_may_not", action=action))
    if case.state not in transition.sources:
        raise IllegalTransition(
            Text("Lifecycle.state_may_not", state=CaseState(case.state), action=action),
            state=case.state,
            action=action.value,
        )
    return transition


def apply(
    session: Session,
    case: Case,
    action: Action,
    actor: Principal,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    transition = ensure_allowed(case, action, actor)
    case.state = transition.target
    case.updated_at = now
    record_event(session, case, action, actor, now, detail)


# Every transition writes a line: one statement built once, the line never loaded as an object
# (building the insert and flushing a new object per transition cost more than the insert).
_RECORD_EVENT = insert(TimelineEvent.__table__)


def record_event(
    session: Session,
    case: Case,
    kind: Action | EventKind,
    actor: Principal,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """A timeline line (also alone, for events that change no state), and its audit entry."""
    audit.record(session, actor, kind, now, case.id, detail)
    line = {
        "case_id": case.id,
        "at": now,
        "kind": str(kind),
        "state_after": case.state,
        "actor_role": actor.role.value,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "detail": detail or {},
    }
    session.execute(_RECORD_EVENT, line)


class Edit(StrEnum):
    """A change to a case that is no transition; who may make it is the access table's to say
    (cases.access.WriteRule), in which state of the case this table's."""

    FACTS = "facts"  # the accident's facts and its parties, recorded in the call
    CIRCUMSTANCES = "circumstances"  # the eligibility answers
    ACTS = "acts"  # what each party did, for the liability rules
    EVIDENCE = "evidence"  # photos and stills
    CLAIM = "claim"  # a party's claim to the insurer
    REVIEW = "review"  # a party's review application
    JOIN = "join"  # another party joins by the case's link, the operator admits them
    SIGNATURE = "signature"  # a party's signed confirmation of the recorded facts


_COLLECTING = frozenset({S.IN_CALL, S.COLLECTED})
EDITABLE: dict[Edit, Mapping[Role, frozenset[CaseState]]] = {
    Edit.FACTS: {Role.OPERATOR: frozenset({S.IN_CALL}), Role.SUPERVISOR: frozenset({S.IN_CALL})},
    Edit.CIRCUMSTANCES: {Role.OPERATOR: _COLLECTING, Role.SUPERVISOR: _COLLECTING},
    # In the call, or afterwards the officer from the evidence.
    Edit.ACTS: {
        Role.OPERATOR: _COLLECTING,
        Role.SUPERVISOR: _COLLECTING,
        Role.OFFICER: frozenset({S.EVACUATED}),
    },
    # Parties add photos while waiting or in the call (photo mode); the operator while collecting.
    Edit.EVIDENCE: {
        Role.PARTY: frozenset({S.QUEUED, S.IN_CALL, S.AGREEMENT_PENDING}),
        Role.OPERATOR: _COLLECTING,
        Role.SUPERVISOR: _COLLECTING,
    },
    # Once liability is settled, by a determination or an agreement; a closed case takes the
    # other parties' claims too.
    Edit.CLAIM: {Role.PARTY: frozenset({S.DETERMINED, S.AGREED, S.CLOSED})},
    Edit.REVIEW: {Role.PARTY: frozenset({S.DETERMINED})},
    # Only while an operator is on the call (a first call or a call back for more evidence):
    # the operator admits whoever asks, and the parties are still being recorded.
    Edit.JOIN: {Role.PARTY: frozenset({S.IN_CALL}), Role.OPERATOR: frozenset({S.IN_CALL})},
    # Before the parties leave the scene: what they sign is what the operator recorded.
    Edit.SIGNATURE: {Role.PARTY: _COLLECTING},
}


# The catalogue's words for each refusal (placeholder: the state's label where it says it).
REFUSALS: dict[Edit, str] = {
    Edit.FACTS: "Lifecycle.not_editable_facts",
    Edit.CIRCUMSTANCES: "Lifecycle.not_editable_circumstances",
    Edit.ACTS: "Lifecycle.not_editable_acts",
    Edit.EVIDENCE: "Lifecycle.not_editable_evidence",
    Edit.CLAIM: "Lifecycle.not_editable_claim",
    Edit.REVIEW: "Lifecycle.not_editable_review",
    Edit.JOIN: "Lifecycle.not_editable_join",
    Edit.SIGNATURE: "Lifecycle.not_editable_signature",
}


def ensure_editable(case: Case, edit: Edit, actor: Principal) -> None:
    """Raise unless the case's state lets `actor` make `edit`."""
    if case.state not in EDITABLE[edit].get(actor.role, frozenset()):
        raise not_editable(case, edit)


def not_editable(case: Case, edit: Edit) -> IllegalTransition:
    """The refusal of `edit` in the case's state, for a guard that also refuses for its own
    reason in the same words (no determination in force to review)."""
    return IllegalTransition(Text(REFUSALS[edit], state=CaseState(case.state)), state=case.state)
