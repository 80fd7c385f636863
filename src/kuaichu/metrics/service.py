"""Prometheus metrics: request counts and latencies of this process, and the state of the
work (cases by state, waiting callers, undelivered messages) read from the database at scrape
time, so every server process reports the same truth."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.cases.models import Case
from kuaichu.geo.models import Jurisdiction
from kuaichu.notify.models import OutboxMessage

HTTP_REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "kuaichu_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=HTTP_REGISTRY
)
LATENCY = Histogram(
    "kuaichu_http_request_seconds", "HTTP request duration", ["method", "route"], registry=HTTP_REGISTRY
)


@dataclass(frozen=True)
class WorkSnapshot:
    cases: list[tuple[str, str, int]]  # jurisdiction code, state, count
    outbox: list[tuple[str, str, int]]  # channel, status, count


def work_snapshot(session: Session) -> WorkSnapshot:
    cases = session.execute(
        select(Jurisdiction.code, Case.state, func.count(Case.id))
        .join(Jurisdiction, Jurisdiction.id == Case.jurisdiction_id)
        .group_by(Jurisdiction.code, Case.state)
    )
    outbox = session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count(OutboxMessage.id)).group_by(
            OutboxMessage.channel, OutboxMessage.status
        )
    )
    return WorkSnapshot([tuple(row) for row in cases], [tuple(row) for row in outbox])


def exposition(snapshot: WorkSnapshot) -> bytes:
    registry = CollectorRegistry()
    cases = Gauge(
        "kuaichu_cases", "Cases by jurisdiction and state", ["jurisdiction", "state"], registry=registry
    )
    for code, state, count in snapshot.cases:
        cases.labels(code, state).set(count)
    outbox = Gauge(
        "kuaichu_outbox_messages",
        "Outbox messages by channel and status",
        ["channel", "status"],
        registry=registry,
    )
    for channel, status, count in snapshot.outbox:
        outbox.labels(channel, status).set(count)
    return generate_latest(HTTP_REGISTRY) + generate_latest(registry)
