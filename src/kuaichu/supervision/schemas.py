from datetime import datetime
from typing import Any

from pydantic import BaseModel

from kuaichu.cases.schemas import CaseOut, TimelineEventOut
from kuaichu.documents.schemas import DocumentOut
from kuaichu.evidence.schemas import EvidenceOut
from kuaichu.registries.schemas import CheckOut
from kuaichu.seats.schemas import PresenceOut


class AuditLine(BaseModel):
    at: datetime
    actor_role: str
    role_label: str
    actor_label: str
    address: str | None
    action: str
    action_label: str
    detail: dict[str, Any]


class CaseReplay(BaseModel):
    """Everything that happened to one case, in order: 全过程可回溯."""

    case: CaseOut
    timeline: list[TimelineEventOut]
    evidence: list[EvidenceOut]
    registry_checks: list[CheckOut]
    determinations: list[dict[str, Any]]
    documents: list[DocumentOut]
    review: dict[str, Any] | None
    claims: list[dict[str, Any]]
    access_log: list[AuditLine]
    # Insurers' agents who were in the case's calls, and when (保险公司坐席在场).
    insurer_seats: list[PresenceOut] = []


class Distribution(BaseModel):
    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    within_target: float | None  # share of cases that met the target
    target_seconds: float
    histogram: list[int]  # cases per minute bucket, the last bucket open-ended


class Timings(BaseModel):
    queue_wait: Distribution
    collection: Distribution
    determination: Distribution


class StaffingOut(BaseModel):
    jurisdiction_code: str
    calls_per_hour: float
    handling_seconds: float
    target_seconds: float
    target_service_level: float
    operators_needed: int
    operators_on_roster: int
    operators_in_call: int
    predicted_service_level_with_roster: float


class PresenceCount(BaseModel):
    status: str
    label: str
    count: int


class QueueHealth(BaseModel):
    jurisdiction_code: str
    jurisdiction_name: str
    waiting: int
    longest_wait_seconds: int
    operators_on_roster: int
    operators_in_call: int
    # available | busy | wrap_up | away, as the operators' consoles last reported.
    operators_by_state: dict[str, int]
    # The same, in the consoles' order, with each state's Chinese name (states with nobody left out).
    presence: list[PresenceCount] = []
