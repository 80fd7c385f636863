"""Whether a jurisdiction takes video calls now: service hours, the supervisor's pause, and
someone on duty. What the party reads before and while queuing, always with 122
(ServiceStatusOut.why)."""

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kuaichu.calls.models import OperatorPresence
from kuaichu.calls.schemas import ON_DUTY, ServiceReason, ServiceStatusOut
from kuaichu.clock import local
from kuaichu.geo.models import Jurisdiction
from kuaichu.messages import Locale, reader_locale, text


@dataclass(frozen=True)
class ServiceHours:
    start: str  # "HH:MM", Shanghai time
    end: str  # "HH:MM"; "24:00" ends the day

    @staticmethod
    def _minutes(value: str) -> int:
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def open_at(self, now: datetime) -> bool:
        moment = local(now)
        minute = moment.hour * 60 + moment.minute
        start, end = self._minutes(self.start), self._minutes(self.end)
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end  # overnight

    @property
    def text(self) -> str:
        return f"{self.start}–{self.end}"


def hours_of(jurisdiction: Jurisdiction, default: ServiceHours) -> ServiceHours:
    return ServiceHours(
        jurisdiction.service_hours_start or default.start, jurisdiction.service_hours_end or default.end
    )


# Built once: every report and every service-status read counts them.
_PRESENCE = OperatorPresence.__table__  # its columns: no ORM compile step for a count
_ON_DUTY = select(func.count()).where(
    _PRESENCE.c.jurisdiction_id == bindparam("jurisdiction_id"), _PRESENCE.c.status.in_(ON_DUTY)
)


def on_duty(session: Session, jurisdiction_id: int) -> int:
    """Operators taking calls: available, in a call or wrapping one up (not away, not 未应答)."""
    return session.scalar(_ON_DUTY, {"jurisdiction_id": jurisdiction_id}) or 0


def service_status(
    session: Session,
    jurisdiction: Jurisdiction,
    default: ServiceHours,
    now: datetime,
    staffed: int | None = None,
) -> ServiceStatusOut:
    """`staffed`: the operators on duty, when the caller has just counted them."""
    hours = hours_of(jurisdiction, default)
    reason: ServiceReason | None = None
    if jurisdiction.paused:
        reason = ServiceReason.PAUSED
    elif not hours.open_at(now):
        reason = ServiceReason.OUTSIDE_HOURS
    elif (on_duty(session, jurisdiction.id) if staffed is None else staffed) == 0:
        reason = ServiceReason.NOBODY_ON_DUTY
    return ServiceStatusOut(
        open=reason is None,
        reason=reason,
        pause_reason=jurisdiction.pause_reason if jurisdiction.paused else None,
        hours=hours.text,
        jurisdiction_code=jurisdiction.code,
        jurisdiction_name=jurisdiction.name,
    )


def wait_text(seconds: int | None, locale: Locale | None = None) -> str | None:
    """The estimate as a person reads it, in whole minutes (at least 1); in the reader's
    language unless a locale is given."""
    if seconds is None:
        return None
    return text("Calls.wait_minutes", locale or reader_locale(), minutes=max(math.ceil(seconds / 60), 1))
