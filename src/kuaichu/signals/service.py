"""Computing, storing and saying a case's signals; recording what the rules need (a still's
perceptual hash, a party login's hashed traces); the signal job, which computes again after the
commit the other cases a cross-case finding named."""

import asyncio
import enum
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kuaichu.audit import service as audit
from kuaichu.audit.actions import AuditAction
from kuaichu.cases.access import get_case, visible_cases
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.models import Case, CaseParty
from kuaichu.clock import Clock
from kuaichu.db import Database
from kuaichu.errors import Forbidden
from kuaichu.messages import Locale, Text, reader_locale, text
from kuaichu.principal import Principal, Role
from kuaichu.privacy import PERSONAL_KEYS, phone_key
from kuaichu.signals.models import CaseSignal, LoginTrace, ReportedPoint, SignalOrder, StillHash
from kuaichu.signals.rules import RULES, Finding, SignalConfig, SignalName, picked_by_hand
from kuaichu.signals.schemas import FlaggedCaseOut, SignalOut, StuckSignalCaseOut, StuckSignalsOut

# Who weighs signals: the officer; the reviewer and the supervisor look across cases.
WATCHERS = (Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN)
NOT_FOR_ROLE = Text("Signals.not_for_role")
# Those who handle the case see a party's identifiers in full; others see them masked.
FULL_VIEW_ROLES = frozenset({Role.OPERATOR, Role.OFFICER, Role.REVIEWER})
# Rules whose findings name other cases: those cases are computed again (by the signal job,
# after the commit), so both show it.
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
# A computation the signal job failed is tried again after this, doubling up to the ceiling.
RETRY_FIRST_SECONDS = 5
RETRY_MAX_SECONDS = 300
# An order never tried this many sweep periods past its time: no job is running it.
OVERDUE_PERIODS = 2
log = logging.getLogger(__name__)


def findings_of(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(session, case, config)]


def refresh(session: Session, case: Case, config: SignalConfig, now: datetime) -> Case:
    """Compute the case's signals and store them in place of the last ones; the other cases a
    cross-case finding names get an order (SignalOrder), committed with this transaction, to be
    computed again by the signal job after the commit: a party with many accidents costs the
    request one computation, not one per earlier case. Until the job has run, such a case
    shows its previous signals (the finding is on this case at once, its echo on the other a
    moment later); an order outlives a crash, so the echo is late at worst, never lost.

    Each transaction stores the signals of one case only, under that case's row lock (this
    one's transition holds it; the job takes it): two cases naming each other, evacuated at
    the same moment by two processes, never wait on each other's locks."""
    findings = findings_of(session, case, config)
    _store(session, case, config, now, findings)
    named = {n for f in findings if f.name in CROSS_CASE for n in f.detail["cases"]}
    if named:
        others = session.scalars(select(Case.id).where(Case.number.in_(named), Case.id != case.id))
        session.add_all(
            SignalOrder(case_id=other, ordered_at=now, attempts=0, next_attempt_at=now)
            for other in sorted(others)
        )
        session.flush()
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


class Outcome(enum.Enum):
    """What one unit of the signal job did."""

    NOTHING_DUE = "nothing_due"
    COMPUTED = "computed"
    PUT_OFF = "put_off"


def recompute_ordered(session: Session, config: SignalConfig, due: datetime, now: datetime) -> Outcome:
    """One ordered case computed again, in one transaction: the oldest order due at `due` that
    no other process holds (SKIP LOCKED on PostgreSQL; SQLite has one writer), the case's row
    locked, every other due order naming the case taken with it, its signals stored and those
    orders deleted. So several orders naming one case cost one computation, and two processes
    holding orders of one case compute it one after the other (the case's lock), each replacing
    the whole set of signals: never twice the rows.

    A computation that fails (a rule meeting data it cannot read) is undone to a savepoint and
    its orders put off, later each time, so it never blocks the orders behind it."""
    first = session.scalars(
        select(SignalOrder)
        .where(SignalOrder.next_attempt_at <= due)
        .order_by(SignalOrder.next_attempt_at, SignalOrder.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if first is None:
        return Outcome.NOTHING_DUE
    # FOR NO KEY UPDATE: serialises with the case's transitions and another run of the case,
    # but not with a request that inserts a row naming the case (its order, its evidence).
    case = session.get_one(Case, first.case_id, with_for_update={"key_share": True})
    orders = session.scalars(
        select(SignalOrder)
        .where(SignalOrder.case_id == case.id, SignalOrder.next_attempt_at <= due)
        .with_for_update(skip_locked=True)
    ).all()
    try:
        with session.begin_nested():
            _store(session, case, config, now, None)
    except OperationalError:
        raise  # the database's own trouble (a deadlock, a lost connection): the unit runs again
    except Exception as error:
        log.exception("signals of case %s: computing them failed; they are tried again", case.id)
        for order in orders:
            order.attempts += 1
            order.last_error = repr(error)[:255]
            delay = min(RETRY_FIRST_SECONDS * 2 ** (order.attempts - 1), RETRY_MAX_SECONDS)
            order.next_attempt_at = now + timedelta(seconds=delay)
        return Outcome.PUT_OFF
    session.execute(delete(SignalOrder).where(SignalOrder.id.in_([o.id for o in orders])))
    return Outcome.COMPUTED


@dataclass
class SignalJob:
    """The app's job: compute again the cases other cases' findings named (SignalOrder). Every
    process runs it; it runs when a collection-complete or an evacuation commits and at its
    period, which retries failures and picks up what a killed process left. One case per
    transaction: on SQLite the job shares the one writer with the operators' requests, which
    then wait for one case's computation at most, not a whole party's history."""

    database: Database
    clock: Clock
    config: SignalConfig
    # One run at a time in a process: whoever awaits a run sees every due order handled.
    _running: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run_once(self) -> int:
        """Returns how many cases this run computed again."""
        async with self._running:
            computed = 0
            # Orders written during the run wait for the next one (they wake it): the run ends.
            due = self.clock.now()
            while True:
                outcome = await self.database.write(
                    lambda s: recompute_ordered(s, self.config, due, self.clock.now())
                )
                if outcome is Outcome.NOTHING_DUE:
                    return computed
                computed += outcome is Outcome.COMPUTED


def stuck_orders(session: Session, now: datetime, sweep_seconds: float) -> StuckSignalsOut:
    """The orders whose computation failed, or which no run took OVERDUE_PERIODS sweep periods
    past their time, grouped by case, the case waiting longest first."""
    overdue = now - timedelta(seconds=OVERDUE_PERIODS * sweep_seconds)
    rows = session.execute(
        select(SignalOrder, Case.number)
        .join(Case, Case.id == SignalOrder.case_id)
        .where(or_(SignalOrder.attempts > 0, SignalOrder.next_attempt_at < overdue))
        .order_by(SignalOrder.ordered_at, SignalOrder.id)
    ).all()
    by_case: dict[int, StuckSignalCaseOut] = {}
    for order, number in rows:
        # repr(error) is "Type(message)": the message may quote a party's data.
        kind = (order.last_error or "").split("(", 1)[0]
        seen = by_case.get(order.case_id)
        if seen is None:
            by_case[order.case_id] = StuckSignalCaseOut(
                case_id=order.case_id,
                number=number,
                orders=1,
                attempts=order.attempts,
                ordered_at=order.ordered_at,
                next_attempt_at=order.next_attempt_at,
                last_error=kind,
            )
            continue
        seen.orders += 1
        seen.next_attempt_at = min(seen.next_attempt_at, order.next_attempt_at)
        if order.attempts > seen.attempts:
            seen.attempts, seen.last_error = order.attempts, kind
    return StuckSignalsOut(
        count=len(rows),
        oldest_ordered_at=rows[0][0].ordered_at if rows else None,
        cases=list(by_case.values()),
    )


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
