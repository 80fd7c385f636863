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
from kuaichu.messages import Text
from kuaichu.notify.parties import notify_parties
from kuaichu.notify.templates import Sms
from kuaichu.principal import Principal
from kuaichu.registries.schemas import CheckOutcome, RegistryKind
from kuaichu.registries.service import checked_positions, latest_checks

SINGLE_VEHICLE = "单方事故"


class CollectionIncomplete(Conflict):
    title = Text("Problem.collection_incomplete")


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
    stills = _stills(session, case, config)
    missing = [
        *_facts_items(case),
        *_registry_items(session, viewer, case),
        *_eligibility_items(session, viewer, case, config),
        *(_still_item(still, case) for still in stills if not still.present),
        *_acts_items(session, case),
    ]
    return CollectionOut(
        ready=not missing, missing=missing, stills=stills, overrides=_overrides(session, case)
    )


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
    missing = gate(session, operator, case, config).missing
    overridden = _overridden(missing, body.override) if body.override else []
    blocking = [item for item in missing if item not in overridden]
    if blocking:
        raise CollectionIncomplete(
            "尚不能完成采集：" + "；".join(item.message for item in blocking),
            missing=[item.model_dump() for item in blocking],
        )
    if body.override and overridden:
        _record_override(session, operator, case, overridden, body.override.reason, now)
    lifecycle.apply(session, case, Action.COMPLETE_COLLECTION, operator, now)
    return case


def evacuate(session: Session, operator: Principal, case_id: int, config: GateConfig, now: datetime) -> Case:
    """撤离现场 (art. 19): evidence is fixed, so the parties leave at once. What no override can
    excuse (an ineligible case, facts or parties missing) is checked again here, since the
    answers may have changed since collection completed."""
    case = _assigned_case(session, operator, case_id)
    lifecycle.ensure_allowed(case, Action.EVACUATE, operator)
    blocking = [item for item in gate(session, operator, case, config).missing if not item.overridable]
    if blocking:
        raise CollectionIncomplete(
            "不能通知撤离：" + "；".join(item.message for item in blocking),
            missing=[item.model_dump() for item in blocking],
        )
    lifecycle.apply(session, case, Action.EVACUATE, operator, now)
    notify_parties(session, case, Sms.EVACUATE, now)
    return case


def _assigned_case(session: Session, operator: Principal, case_id: int) -> Case:
    case = get_case(session, operator, case_id, lock=True)
    ensure_may_write(case, operator, WriteRule.HANDLING_OPERATOR)
    return case


def _overridden(missing: list[GateItemOut], override: OverrideIn) -> list[GateItemOut]:
    by_key = {item.key: item for item in missing}
    unknown = [key for key in override.keys if key not in by_key]
    if unknown:
        raise InvalidInput(f"以下项目当前并不缺失，无需放行：{'、'.join(unknown)}", keys=unknown)
    fixed = [by_key[key].message for key in override.keys if not by_key[key].overridable]
    if fixed:
        raise InvalidInput("以下项目不能放行：" + "；".join(fixed))
    return [by_key[key] for key in dict.fromkeys(override.keys)]


def _record_override(
    session: Session, operator: Principal, case: Case, items: list[GateItemOut], reason: str, now: datetime
) -> None:
    detail = {"items": [item.model_dump() for item in items], "reason": reason}
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


def _who(party: CaseParty) -> str:
    return f"当事人{party.position}（{party.name}）"


def _facts_items(case: Case) -> list[GateItemOut]:
    items = []
    if case.occurred_at is None or case.accident_type is None or not case.address:
        items.append(
            GateItemOut(
                key="accident_facts",
                code="accident_facts",
                message="尚未记录事故时间、地点和事故类型",
                overridable=False,
            )
        )
    needed = 1 if case.accident_type == SINGLE_VEHICLE else 2
    if len(case.parties) < needed:
        items.append(
            GateItemOut(
                key="parties",
                code="parties",
                message=f"至少需要录入{needed}方当事人信息（已录入{len(case.parties)}方）",
                overridable=False,
            )
        )
    return items


def _registry_items(session: Session, viewer: Principal, case: Case) -> list[GateItemOut]:
    """Every party checked on the data now entered: an edit after the check makes it stale."""
    current = latest_checks(session, viewer, case.id)
    ever_checked = checked_positions(session, case.id)
    items = []
    for party in case.parties:
        own = [c for c in current if c.party_position == party.position]
        key = f"registry:{party.position}"
        if len(own) < len(RegistryKind):
            stale = party.position in ever_checked
            items.append(
                GateItemOut(
                    key=key,
                    code="registry_check_stale" if stale else "registry_check_missing",
                    message=f"{_who(party)}信息修改后尚未重新核验"
                    if stale
                    else f"{_who(party)}尚未进行驾驶证、车辆、交强险核验",
                    party_position=party.position,
                    overridable=True,
                )
            )
            continue
        unavailable = [c.kind_label for c in own if c.outcome is CheckOutcome.UNAVAILABLE]
        if unavailable:
            items.append(
                GateItemOut(
                    key=key,
                    code="registry_unavailable",
                    message=f"{_who(party)}的{'、'.join(unavailable)}核验暂不可用，请人工核对",
                    party_position=party.position,
                    overridable=True,
                )
            )
    return items


def _eligibility_items(
    session: Session, viewer: Principal, case: Case, config: GateConfig
) -> list[GateItemOut]:
    """art. 13, 19: the judgement must have been made, and made for video handling."""
    judged = eligibility.assess(session, viewer, case.id, config.max_vehicles)
    if judged.eligible is False:
        reasons = "；".join(r.reason for r in judged.reasons)
        return [
            GateItemOut(
                key="eligibility",
                code="ineligible",
                message=f"不符合快处条件（{reasons}），只能转现场处置",
                overridable=False,
            )
        ]
    if session.get(CaseCircumstances, case.id) is None:
        return [
            GateItemOut(
                key="eligibility",
                code="eligibility_not_judged",
                message="尚未判定能否快处（有无伤亡、车辆能否移动、有无争议等）",
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


def _still_item(still: StillOut, case: Case) -> GateItemOut:
    party = next((p for p in case.parties if p.position == still.party_position), None)
    whose = f"{_who(party)}" if party else ""
    what = kind_label(still.kind, None)
    key = f"still:{still.kind}" + (f":{still.party_position}" if still.party_position else "")
    return GateItemOut(
        key=key,
        code="still_missing",
        message=f"缺少{whose}{what}照片",
        party_position=still.party_position,
        overridable=True,
    )


def _acts_items(session: Session, case: Case) -> list[GateItemOut]:
    """The liability rules need each party's acts: an empty list ("none of the listed acts")
    is an answer; no entry at all is a question not yet asked."""
    recorded = recorded_facts(session, case.id)
    return [
        GateItemOut(
            key=f"acts:{party.position}",
            code="acts_missing",
            message=f"尚未记录{_who(party)}的行为（供定责）",
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
