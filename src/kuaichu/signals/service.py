"""Computing, storing and saying a case's signals; recording what the rules need (a still's
perceptual hash, a party login's hashed traces)."""

import re
import secrets
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases.access import get_case, visible_cases
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, CaseParty
from kuaichu.errors import Forbidden
from kuaichu.messages import Locale, Text, reader_locale, text
from kuaichu.principal import Principal, Role
from kuaichu.privacy import PERSONAL_KEYS, phone_key
from kuaichu.signals.models import CaseSignal, LoginTrace, ReportedPoint, StillHash
from kuaichu.signals.rules import RULES, Finding, SignalConfig, SignalName, picked_by_hand
from kuaichu.signals.schemas import FlaggedCaseOut, SignalOut

# Who weighs signals: the officer; the reviewer and the supervisor look across cases.
WATCHERS = (Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN)
NOT_FOR_ROLE = Text("Signals.not_for_role")
# Those who handle the case see a party's identifiers in full; others see them masked.
FULL_VIEW_ROLES = frozenset({Role.OPERATOR, Role.OFFICER, Role.REVIEWER})
# Rules whose findings name other cases: those cases are computed again, so both show it.
CROSS_CASE = frozenset({SignalName.REPEATED_IDENTITY, SignalName.REUSED_STILL})
LIST_LIMIT = 200
# How a reason names an identifier, and a shared login by what was shared.
FIELD_KEYS = {
    "plate_number": "Signals.field_plate_number",
    "phone": "Signals.field_phone",
    "id_number": "Signals.field_id_number",
}
SHARED_KEYS = {"device": "Signals.reason_shared_device", "address": "Signals.reason_shared_address"}
# A party's device: a random id in a cookie of the login (no fingerprinting), kept 400 days
# (the most browsers allow); only its keyed hash is stored.
DEVICE_COOKIE = "kc_device"
DEVICE_COOKIE_SECONDS = 400 * 24 * 3600
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def findings_of(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(session, case, config)]


def refresh(session: Session, case: Case, config: SignalConfig, now: datetime) -> Case:
    """Compute the case's signals and store them in place of the last ones; the cases a
    cross-case finding names are computed again too (once: not their own neighbours).

    Stored in the order of the cases' ids: two cases naming each other, evacuated at the same
    moment by two processes, then lock their rows in one order and never wait on each other."""
    findings = findings_of(session, case, config)
    named = {n for f in findings if f.name in CROSS_CASE for n in f.detail["cases"]}
    others = session.scalars(select(Case).where(Case.number.in_(named), Case.id != case.id))
    for each in sorted([case, *others], key=lambda c: c.id):
        _store(session, each, config, now, findings if each is case else None)
    return case


def _store(
    session: Session, case: Case, config: SignalConfig, now: datetime, findings: list[Finding] | None
) -> None:
    if findings is None:
        findings = findings_of(session, case, config)
    session.execute(delete(CaseSignal).where(CaseSignal.case_id == case.id))
    session.add_all(
        CaseSignal(case_id=case.id, name=f.name.value, detail=f.detail, computed_at=now) for f in findings
    )
    session.flush()


def record_still_hash(session: Session, evidence_id: int, case_id: int, phash: str | None) -> None:
    """A still's perceptual hash, stored with the still (None: no picture to hash)."""
    if phash is None:
        return
    bands = {f"band{i}": phash[4 * i : 4 * i + 4] for i in range(4)}
    session.add(StillHash(evidence_id=evidence_id, case_id=case_id, phash=phash, **bands))


def device_id(cookie: str | None) -> str:
    """The device's id from its cookie, or a new one (none yet, or not one we made)."""
    return cookie if cookie and _DEVICE_ID.match(cookie) else secrets.token_urlsafe(16)


def record_login(
    session: Session,
    config: SignalConfig,
    phone: str,
    address: str,
    device: str,
    now: datetime,
) -> None:
    """A party's login as keyed hashes only; the retention job deletes it once its period ran
    out (`delete_login_traces`)."""
    session.add(
        LoginTrace(
            phone_key=phone_key(phone, config.hash_secret),
            address_hash=phone_key(f"address:{address}", config.hash_secret),
            device_hash=phone_key(f"device:{device}", config.hash_secret),
            at=now,
        )
    )


def delete_login_traces(session: Session, before: datetime) -> None:
    """个人信息保护法 art. 47: the login traces recorded before `before` are deleted."""
    session.execute(delete(LoginTrace).where(LoginTrace.at < before))


def case_signals(session: Session, viewer: Principal, case_id: int, now: datetime) -> list[SignalOut]:
    case = get_case(session, viewer, case_id)
    audit.record(session, viewer, AuditAction.READ_SIGNALS, now, case.id)
    rows = session.scalars(select(CaseSignal).where(CaseSignal.case_id == case.id).order_by(CaseSignal.id))
    return [signal_out(case, row, viewer) for row in rows]


def having(viewer: Principal, name: SignalName) -> ColumnElement[bool]:
    """A case query's condition: the case has a signal `name`; only for those who weigh
    signals (a party must not learn that their case has one)."""
    if viewer.role not in WATCHERS:
        raise Forbidden(NOT_FOR_ROLE)
    return exists().where(CaseSignal.case_id == Case.id, CaseSignal.name == name.value)


def flagged_cases(
    session: Session,
    viewer: Principal,
    now: datetime,
    name: SignalName | None = None,
    state: CaseState | None = None,
) -> list[FlaggedCaseOut]:
    """The cases in the viewer's scope with a signal (of `name` if given), newest first."""
    flagged = exists().where(CaseSignal.case_id == Case.id)
    if name is not None:
        flagged = flagged.where(CaseSignal.name == name.value)
    query = visible_cases(viewer).where(flagged)
    if state is not None:
        query = query.where(Case.state == state.value)
    cases = list(session.scalars(query.order_by(Case.reported_at.desc(), Case.id.desc()).limit(LIST_LIMIT)))
    audit.record(session, viewer, AuditAction.LIST_SIGNALS, now, detail={"signal": name and name.value})
    rows = session.scalars(
        select(CaseSignal).where(CaseSignal.case_id.in_([c.id for c in cases])).order_by(CaseSignal.id)
    )
    by_case: dict[int, list[CaseSignal]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    return [
        FlaggedCaseOut(
            id=case.id,
            number=case.number,
            state=case.state,
            state_label=CaseState(case.state).label(),
            reported_at=case.reported_at,
            signals=[signal_out(case, row, viewer) for row in by_case.get(case.id, [])],
        )
        for case in cases
    ]


def signal_out(case: Case, row: CaseSignal, viewer: Principal) -> SignalOut:
    name = SignalName(row.name)
    return SignalOut(
        name=name.value, label=name.label(), reason=reason_of(case, row, viewer, reader_locale())
    )


def reason_of(case: Case, row: CaseSignal, viewer: Principal, locale: Locale) -> str:
    """The finding in words; a party's identifier as the viewer's role may see it."""
    detail = row.detail
    match SignalName(row.name):
        case SignalName.REPEATED_IDENTITY:
            return text(
                "Signals.reason_repeated_identity",
                locale,
                party=_party(detail["position"], locale),
                field=text(FIELD_KEYS[detail["field"]], locale),
                value=_identifier(case, detail["position"], detail["field"], viewer),
                days=detail["days"],
                count=detail["count"],
                cases=text("Common.list_separator", locale).join(detail["cases"]),
            )
        case SignalName.SHARED_LOGIN:
            first, second = (_party(p, locale) for p in detail["positions"])
            return text(SHARED_KEYS[detail["via"]], locale, first=first, second=second)
        case SignalName.FAR_REPORT_POINT:
            return text("Signals.reason_far_report_point", locale, **detail)
        case SignalName.LATE_REPORT:
            return text("Signals.reason_late_report", locale, **detail)
        case SignalName.REUSED_STILL:
            cases = text("Common.list_separator", locale).join(detail["cases"])
            return text("Signals.reason_reused_still", locale, cases=cases)


def _party(position: int, locale: Locale) -> str:
    return text("Signals.party", locale, position=position)


def _identifier(case: Case, position: int, field: str, viewer: Principal) -> str:
    party: CaseParty | None = next((p for p in case.parties if p.position == position), None)
    if party is None:
        return "—"
    value: str = getattr(party, field)
    return value if viewer.role in FULL_VIEW_ROLES else PERSONAL_KEYS[field](value)


def keep_reported_point(session: Session, case_id: int) -> None:
    """Before the operator's facts may move the case's point: keep the point as reported (once;
    nothing for a district picked by hand). The facts' own checks follow in the same unit of
    work, and a refusal there keeps nothing."""
    case = session.get(Case, case_id)
    if case is None or session.get(ReportedPoint, case_id) is not None or picked_by_hand(session, case_id):
        return
    session.add(ReportedPoint(case_id=case.id, lat=case.report_lat, lng=case.report_lng))
