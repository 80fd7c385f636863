"""信息采集完成: the gate that decides whether the parties may leave the scene (art. 19).

`gate` says what the case, as it stands now, still lacks; the console, the API and the tests
all ask it. Collection completes only with nothing missing. The operator may let an
overridable item pass with a written reason (audited, shown to the officer, the reviewer and
the supervisor); an ineligible case can only be transferred to on-site handling (art. 13).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases import lifecycle
from kuaichu.cases.access import WriteRule, ensure_may_write, get_case
from kuaichu.cases.catalogue import AccidentType
from kuaichu.cases.lifecycle import Action, EventKind
from kuaichu.cases.models import Case, CaseParty
from kuaichu.collection.models import CollectionOverride
from kuaichu.collection.schemas import (
    CollectionCompleteIn,
    CollectionOut,
    GateItemOut,
    OverrideIn,
    OverrideOut,
    StillOut,
)
from kuaichu.eligibility import service as eligibility
from kuaichu.eligibility.models import CaseCircumstances
from kuaichu.errors import Conflict, InvalidInput
from kuaichu.evidence.models import EvidenceItem
from kuaichu.evidence.schemas import EvidenceKind, kind_label
from kuaichu.geo.models import Jurisdiction
from kuaichu.liability.service import recorded_facts
from kuaichu.messages import DEFAULT_LOCALE, Listed, Locale, Text, reader_locale
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import Principal
from kuaichu.registries.schemas import CheckOutcome, RegistryKind
from kuaichu.registries.service import checked_positions, latest_checks
from kuaichu.signatures import service as signatures
from kuaichu.signatures.schemas import ConfirmationStatus


@dataclass(frozen=True)
class GateItem:
    """One thing collection still lacks, said in whichever language reads it; `key` names it for
    an override, `code` says what kind of lack it is."""

    key: str
    code: str
    said: Text
    overridable: bool
    party_position: int | None = None

    def out(self, locale: Locale | None = None) -> GateItemOut:
        return GateItemOut(
            key=self.key,
            code=self.code,
            message=self.said.render(locale or reader_locale()),
            party_position=self.party_position,
            overridable=self.overridable,
        )


class CollectionIncomplete(Conflict):
    """What blocks a step, as one sentence (`refusal`, the key of its text) listing the items, and
    each item apart for the console to place."""

    title = Text("Problem.collection_incomplete")

    def __init__(self, refusal: str, items: list[GateItem]) -> None:
        super().__init__(
            Text(refusal, items=Listed("Collection.separator", [item.said for item in items])),
            missing=[item.out().model_dump() for item in items],
        )


@dataclass(frozen=True)
class GateConfig:
    """The settings the gate reads: the default stills list and the vehicle limit."""

    required_stills: list[str]
    max_vehicles: int


@dataclass(frozen=True)
class StillRequirement:
    kind: EvidenceKind
    per_party: bool

    @classmethod
    def parse(cls, text: str) -> "StillRequirement":
        kind, _, each = text.partition(":")
        return cls(EvidenceKind(kind), each == "each")


def gate(session: Session, viewer: Principal, case: Case, config: GateConfig) -> CollectionOut:
    """The gate as the reader sees it, in their language."""
    stills = _stills(session, case, config)
    missing = _missing(session, viewer, case, config, stills)
    return CollectionOut(
        ready=not missing,
        missing=[item.out() for item in missing],
        stills=stills,
        overrides=_overrides(session, case),
    )


def _missing(
    session: Session, viewer: Principal, case: Case, config: GateConfig, stills: list[StillOut] | None = None
) -> list[GateItem]:
    stills = _stills(session, case, config) if stills is None else stills
    return [
        *_facts_items(case),
        *_registry_items(session, viewer, case),
        *_eligibility_items(session, viewer, case, config),
        *(_still_item(still, case) for still in stills if not still.present),
        *_acts_items(session, case),
    ]


def read_gate(
    session: Session, viewer: Principal, case_id: int, config: GateConfig, now: datetime
) -> CollectionOut:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_COLLECTION, now, case.id)
    return gate(session, viewer, case, config)


def complete(
    session: Session,
    operator: Principal,
    case_id: int,
    body: CollectionCompleteIn,
    config: GateConfig,
    now: datetime,
) -> Case:
    """采集完成: succeeds only when the gate finds nothing missing that was not overridden."""
    case = _assigned_case(session, operator, case_id)
    lifecycle.ensure_allowed(case, Action.COMPLETE_COLLECTION, operator)
    missing = _missing(session, operator, case, config)
    overridden = _overridden(missing, body.override) if body.override else []
    blocking = [item for item in missing if item not in overridden]
    if blocking:
        raise CollectionIncomplete("Collection.cannot_complete", blocking)
    if body.override and overridden:
        _record_override(session, operator, case, overridden, body.override.reason, now)
    lifecycle.apply(session, case, Action.COMPLETE_COLLECTION, operator, now)
    return case


def evacuate(session: Session, operator: Principal, case_id: int, config: GateConfig, now: datetime) -> Case:
    """撤离现场 (art. 19): evidence is fixed, so the parties leave at once. What no override can
    excuse (an ineligible case, facts or parties missing) is checked again here, since the
    answers may have changed since collection completed. Every party has signed the facts and
    parties as recorded now (当事人签名确认)."""
    case = _assigned_case(session, operator, case_id)
    lifecycle.ensure_allowed(case, Action.EVACUATE, operator)
    missing = [item for item in _missing(session, operator, case, config) if not item.overridable]
    blocking = missing + _signature_items(session, case)
    if blocking:
        raise CollectionIncomplete("Collection.cannot_evacuate", blocking)
    lifecycle.apply(session, case, Action.EVACUATE, operator, now)
    notify_parties(session, case, Sms.EVACUATE, now)
    return case


def _assigned_case(session: Session, operator: Principal, case_id: int) -> Case:
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    return case


def _overridden(missing: list[GateItem], override: OverrideIn) -> list[GateItem]:
    by_key = {item.key: item for item in missing}
    unknown = [key for key in override.keys if key not in by_key]
    if unknown:
        raise InvalidInput(
            Text("Collection.not_missing", keys=Listed("Collection.list_separator", unknown)), keys=unknown
        )
    fixed = [by_key[key].said for key in override.keys if not by_key[key].overridable]
    if fixed:
        raise InvalidInput(Text("Collection.not_overridable", items=Listed("Collection.separator", fixed)))
    return [by_key[key] for key in dict.fromkeys(override.keys)]


def _record_override(
    session: Session, operator: Principal, case: Case, items: list[GateItem], reason: str, now: datetime
) -> None:
    # Kept as the operator was shown it, in Chinese: the record of what was let pass.
    detail = {"items": [item.out(DEFAULT_LOCALE).model_dump() for item in items], "reason": reason}
    session.add(
        CollectionOverride(
            case_id=case.id,
            items=detail["items"],
            reason=reason,
            operator_id=operator.id,
            operator_label=operator.label,
            at=now,
        )
    )
    lifecycle.record_event(session, case, EventKind.COLLECTION_OVERRIDE, operator, now, detail)


def _overrides(session: Session, case: Case) -> list[OverrideOut]:
    rows = session.scalars(
        select(CollectionOverride)
        .where(CollectionOverride.case_id == case.id)
        .order_by(CollectionOverride.id)
    )
    return [
        OverrideOut(
            items=[GateItemOut(**item) for item in row.items],
            reason=row.reason,
            operator=row.operator_label,
            at=row.at,
        )
        for row in rows
    ]


# The items, one group at a time.


def _who(party: CaseParty) -> Text:
    return Text("Collection.party", position=party.position, name=party.name)


def _facts_items(case: Case) -> list[GateItem]:
    items = []
    if case.occurred_at is None or case.accident_type is None or not case.address:
        items.append(
            GateItem(
                key="accident_facts",
                code="accident_facts",
                said=Text("Collection.accident_facts"),
                overridable=False,
            )
        )
    needed = 1 if case.accident_type == AccidentType.SINGLE_VEHICLE else 2
    if len(case.parties) < needed:
        items.append(
            GateItem(
                key="parties",
                code="parties",
                said=Text("Collection.parties", needed=needed, entered=len(case.parties)),
                overridable=False,
            )
        )
    return items


def _signature_items(session: Session, case: Case) -> list[GateItem]:
    """Each party who has not signed, or signed facts or parties since changed."""
    items = []
    for standing in signatures.unsigned(session, case):
        code = "signature_stale" if standing.status is ConfirmationStatus.STALE else "signature_missing"
        items.append(
            GateItem(
                key=f"signature:{standing.party.position}",
                code=code,
                said=Text(f"Collection.{code}", who=_who(standing.party)),
                party_position=standing.party.position,
                overridable=False,
            )
        )
    return items


def _registry_items(session: Session, viewer: Principal, case: Case) -> list[GateItem]:
    """Every party checked on the data now entered: an edit after the check makes it stale."""
    current = latest_checks(session, viewer, case.id)
    ever_checked = checked_positions(session, case.id)
    items = []
    for party in case.parties:
        own = [c for c in current if c.party_position == party.position]
        key = f"registry:{party.position}"
        if len(own) < len(RegistryKind):
            code = "registry_check_stale" if party.position in ever_checked else "registry_check_missing"
            items.append(
                GateItem(
                    key=key,
                    code=code,
                    said=Text(f"Collection.{code}", who=_who(party)),
                    party_position=party.position,
                    overridable=True,
                )
            )
            continue
        unavailable = [RegistryKind(c.kind) for c in own if c.outcome is CheckOutcome.UNAVAILABLE]
        if unavailable:
            kinds = Listed("Collection.list_separator", unavailable)
            items.append(
                GateItem(
                    key=key,
                    code="registry_unavailable",
                    said=Text("Collection.registry_unavailable", who=_who(party), kinds=kinds),
                    party_position=party.position,
                    overridable=True,
                )
            )
    return items


def _eligibility_items(session: Session, viewer: Principal, case: Case, config: GateConfig) -> list[GateItem]:
    """art. 13, 19: the judgement must have been made, and made for video handling."""
    judged = eligibility.judge(session, viewer, case.id, config.max_vehicles)
    if judged.eligible is False:
        reasons = Listed("Collection.separator", [breach.full for breach in judged.breaches])
        return [
            GateItem(
                key="eligibility",
                code="ineligible",
                said=Text("Collection.ineligible", reasons=reasons),
                overridable=False,
            )
        ]
    if session.get(CaseCircumstances, case.id) is None:
        return [
            GateItem(
                key="eligibility",
                code="eligibility_not_judged",
                said=Text("Collection.eligibility_not_judged"),
                overridable=False,
            )
        ]
    return []


def _stills(session: Session, case: Case, config: GateConfig) -> list[StillOut]:
    jurisdiction = session.get(Jurisdiction, case.jurisdiction_id)
    assert jurisdiction is not None
    requirements = [StillRequirement.parse(r) for r in jurisdiction.required_stills or config.required_stills]
    rows = session.execute(
        select(EvidenceItem.kind, EvidenceItem.party_position).where(EvidenceItem.case_id == case.id)
    )
    taken = {(kind, position) for kind, position in rows}
    kinds_taken = {kind for kind, _ in taken}
    stills = []
    for requirement in requirements:
        kind = requirement.kind
        if kind is EvidenceKind.SIDE_BY_SIDE and len(case.parties) < 2:
            continue  # a single-vehicle accident has nothing to put side by side
        positions: list[int | None] = [p.position for p in case.parties] if requirement.per_party else [None]
        for position in positions:
            present = (kind.value, position) in taken if position else kind.value in kinds_taken
            label = kind_label(kind, position)
            stills.append(StillOut(kind=kind.value, party_position=position, label=label, present=present))
    return stills


def _still_item(still: StillOut, case: Case) -> GateItem:
    party = next((p for p in case.parties if p.position == still.party_position), None)
    what = EvidenceKind(still.kind)
    said = (
        Text("Collection.party_still_missing", who=_who(party), what=what)
        if party
        else Text("Collection.still_missing", what=what)
    )
    key = f"still:{still.kind}" + (f":{still.party_position}" if still.party_position else "")
    return GateItem(
        key=key,
        code="still_missing",
        said=said,
        party_position=still.party_position,
        overridable=True,
    )


def _acts_items(session: Session, case: Case) -> list[GateItem]:
    """The liability rules need each party's acts: an empty list ("none of the listed acts")
    is an answer; no entry at all is a question not yet asked."""
    recorded = recorded_facts(session, case.id)
    return [
        GateItem(
            key=f"acts:{party.position}",
            code="acts_missing",
            said=Text("Collection.acts_missing", who=_who(party)),
            party_position=party.position,
            overridable=True,
        )
        for party in case.parties
        if str(party.position) not in recorded
    ]


def transfer(session: Session, operator: Principal, case_id: int, reason: str, now: datetime) -> Case:
    """转现场处置 (art. 13): the case cannot be handled remotely."""
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    lifecycle.apply(session, case, Action.TRANSFER, operator, now, {"reason": reason})
    case.transfer_reason = reason
    notify_parties(session, case, Sms.TRANSFERRED, now)
    return case
