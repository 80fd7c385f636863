"""The review period (复核申请期限), counted as order No. 146 art. 71 and the civil rules count.

A party may apply within 3 days of delivery. The day of delivery is not counted; when the
last day falls on a statutory rest day (weekend or public holiday, with China's make-up
working days), the period ends at the close of the first working day after it.
"""

import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

from kuaichu.clock import SHANGHAI, as_utc, local

log = logging.getLogger(__name__)

REVIEW_PERIOD_DAYS = 3  # art. 71
DECISION_PERIOD_DAYS = 30  # art. 73: the reviewing unit decides within 30 days of accepting


def is_rest_day(day: date) -> bool:
    try:
        return chinese_calendar.is_holiday(day)
    except NotImplementedError:
        # Beyond the years the package knows: weekends only, until it is updated.
        log.warning("official calendar unknown for %s; counting weekends only", day.year)
        return day.weekday() >= 5


def last_day_to_apply(delivered_at: datetime) -> date:
    last = local(delivered_at).date() + timedelta(days=REVIEW_PERIOD_DAYS)
    while is_rest_day(last):
        last += timedelta(days=1)
    return last


def decision_due_on(submitted_at: datetime) -> date:
    """The last day (Shanghai) for the reviewing unit's decision, counted like the application's."""
    last = local(submitted_at).date() + timedelta(days=DECISION_PERIOD_DAYS)
    while is_rest_day(last):
        last += timedelta(days=1)
    return last


def days_left(last_day: date, now: datetime) -> int:
    """Whole days from today (Shanghai) to the last day: 0 on the last day, negative once past."""
    return (last_day - local(now).date()).days


def review_deadline(delivered_at: datetime) -> datetime:
    """The first instant (UTC) at which an application is too late."""
    next_day = last_day_to_apply(delivered_at) + timedelta(days=1)
    return as_utc(datetime.combine(next_day, time.min, tzinfo=SHANGHAI))
