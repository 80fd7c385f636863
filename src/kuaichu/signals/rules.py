"""The rules, one small function each: a case in, its findings out (none, one or more).

A finding names parties by position and fields by name, never their values: the reason is said
when read, masked for the reader (service.reason_of). Thresholds come from Settings
(SignalConfig.of); a rule at its threshold's edge: a count or a distance reaching it fires, a
delay or a distance must pass it.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kuaichu.cases.lifecycle import EventKind
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.evidence.models import EvidenceItem
from kuaichu.messages import Labelled
from kuaichu.privacy import phone_key
from kuaichu.settings import Settings
from kuaichu.signals.models import LoginTrace, ReportedPoint, StillHash

EARTH_RADIUS_METRES = 6_371_008.8
# The identifiers a repeated accident is looked for by, in the order reasons name them.
IDENTITY_FIELDS = ("plate_number", "phone", "id_number")


class SignalName(Labelled):
    REPEATED_IDENTITY = "repeated_identity"
    SHARED_LOGIN = "shared_login"
    FAR_REPORT_POINT = "far_report_point"
    LATE_REPORT = "late_report"
    REUSED_STILL = "reused_still"


@dataclass(frozen=True)
class Finding:
    name: SignalName
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalConfig:
    """The rules' thresholds (see Settings.signal_*) and the key their login hashes use."""

    repeat_accidents: int
    repeat_days: int
    login_window_hours: int
    far_point_metres: int
    late_report_minutes: int
    still_hash_distance: int
    hash_secret: str

    @classmethod
    def of(cls, settings: Settings) -> "SignalConfig":
        return cls(
            repeat_accidents=settings.signal_repeat_accidents,
            repeat_days=settings.signal_repeat_days,
            login_window_hours=settings.signal_login_window_hours,
            far_point_metres=settings.signal_far_point_metres,
            late_report_minutes=settings.signal_late_report_minutes,
            still_hash_distance=settings.signal_still_hash_distance,
            hash_secret=settings.effective_phone_key_secret,
        )


def repeated_identity(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    """The same plate, phone or ID number in `repeat_accidents` accidents (this one included)
    reported within `repeat_days` days of this one, before or after."""
    window = timedelta(days=config.repeat_days)
    findings = []
    for name in IDENTITY_FIELDS:
        column = getattr(CaseParty, name)
        by_value = {getattr(p, name): p.position for p in case.parties}
        rows = session.execute(
            select(column, Case.number)
            .join(Case, Case.id == CaseParty.case_id)
            .where(
                column.in_(by_value),
                Case.reported_at >= case.reported_at - window,
                Case.reported_at <= case.reported_at + window,
            )
        )
        numbers: dict[str, set[str]] = defaultdict(set)
        for value, number in rows:
            numbers[value].add(number)
        for value, position in by_value.items():
            if len(numbers[value]) >= config.repeat_accidents:
                others = sorted(numbers[value] - {case.number})
                detail = {"position": position, "field": name, "count": len(numbers[value]), "cases": others}
                findings.append(Finding(SignalName.REPEATED_IDENTITY, detail | {"days": config.repeat_days}))
    return findings


def shared_login(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    """Two parties (different phones) logged in from one device, or else from one address,
    within `login_window_hours` of the report. An address is often a carrier's NAT shared by
    strangers, which the reason says."""
    positions = {phone_key(p.phone, config.hash_secret): p.position for p in reversed(case.parties)}
    if len(positions) < 2:
        return []
    window = timedelta(hours=config.login_window_hours)
    traces = session.execute(
        select(LoginTrace.phone_key, LoginTrace.device_hash, LoginTrace.address_hash).where(
            LoginTrace.phone_key.in_(positions),
            LoginTrace.at >= case.reported_at - window,
            LoginTrace.at <= case.reported_at + window,
        )
    )
    devices: dict[str, set[str]] = defaultdict(set)
    addresses: dict[str, set[str]] = defaultdict(set)
    for key, device, address in traces:
        devices[key].add(device)
        addresses[key].add(address)
    findings = []
    for first, second in combinations(sorted(positions, key=positions.__getitem__), 2):
        via = "device" if devices[first] & devices[second] else None
        via = via or ("address" if addresses[first] & addresses[second] else None)
        if via:
            detail = {"positions": [positions[first], positions[second]], "via": via}
            findings.append(Finding(SignalName.SHARED_LOGIN, detail))
    return findings


def distance_metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lng) points (haversine)."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(h))


def reported_point(session: Session, case: Case) -> tuple[float, float] | None:
    """The GPS point as the party's phone reported it: kept aside when the operator first
    recorded the facts, else still the case's own. None: no GPS was reported (the party picked
    the district by hand)."""
    kept = session.get(ReportedPoint, case.id)
    if kept is not None:
        return kept.lat, kept.lng
    return None if picked_by_hand(session, case.id) else (case.report_lat, case.report_lng)


def picked_by_hand(session: Session, case_id: int) -> bool:
    """The report's timeline line says the party picked the district (location denied)."""
    detail = session.scalars(
        select(TimelineEvent.detail)
        .where(TimelineEvent.case_id == case_id, TimelineEvent.kind == EventKind.REPORT.value)
        .limit(1)
    ).first()
    return (detail or {}).get("location") == "manual"


def far_report_point(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    """The reported GPS point farther than `far_point_metres` from the points recorded later for
    the place: the case's point as the operator's facts left it, and where each still was taken.
    The operator's address is words: no geocoder runs here, so it is not measured."""
    reported = reported_point(session, case)
    if reported is None:
        return []
    later = [(case.report_lat, case.report_lng)]
    stills = session.execute(
        select(EvidenceItem.lat, EvidenceItem.lng).where(
            EvidenceItem.case_id == case.id, EvidenceItem.lat.is_not(None), EvidenceItem.lng.is_not(None)
        )
    )
    later += [(lat, lng) for lat, lng in stills]
    farthest = max(distance_metres(reported, point) for point in later)
    if farthest <= config.far_point_metres:
        return []
    detail = {"metres": round(farthest), "threshold": config.far_point_metres}
    return [Finding(SignalName.FAR_REPORT_POINT, detail)]


def late_report(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    """Reported more than `late_report_minutes` after the accident's time the operator recorded."""
    if case.occurred_at is None:
        return []
    minutes = (case.reported_at - case.occurred_at).total_seconds() / 60
    if minutes <= config.late_report_minutes:
        return []
    return [
        Finding(SignalName.LATE_REPORT, {"minutes": round(minutes), "threshold": config.late_report_minutes})
    ]


def hamming(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()


def reused_still(session: Session, case: Case, config: SignalConfig) -> list[Finding]:
    """A still of this case within `still_hash_distance` bits (perceptual hash) of a still of
    another case: the same picture, even re-encoded or resized."""
    own = list(session.scalars(select(StillHash).where(StillHash.case_id == case.id)))
    if not own:
        return []
    candidates = session.execute(
        select(StillHash.phash, Case.number)
        .join(Case, Case.id == StillHash.case_id)
        .where(StillHash.case_id != case.id, or_(*_band_matches(own)))
    ).all()
    numbers = sorted(
        {
            number
            for phash, number in candidates
            if any(hamming(phash, still.phash) <= config.still_hash_distance for still in own)
        }
    )
    return [Finding(SignalName.REUSED_STILL, {"cases": numbers})] if numbers else []


def _band_matches(stills: Iterable[StillHash]) -> list[Any]:
    bands = (StillHash.band0, StillHash.band1, StillHash.band2, StillHash.band3)
    return [
        column.in_({getattr(still, f"band{index}") for still in stills}) for index, column in enumerate(bands)
    ]


RULES = (repeated_identity, shared_login, far_report_point, late_report, reused_still)
