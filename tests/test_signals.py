"""Fraud and quality signals (issue 14): each rule fires on a case that meets it and stays
silent just short of its threshold; what is computed is stored with the case (and with the
other case a cross-case rule names), listed and filtered by signal within the viewer's scope,
and its reason masks a party's identifiers for roles that see them masked. On SQLite and
PostgreSQL (the `database` fixture runs each test on both)."""

import asyncio
import io
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import empty_postgres, requires_postgres
from factories import id_number
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.cases.lifecycle import CaseState, EventKind
from kuaichu.cases.models import Case, CaseParty, TimelineEvent
from kuaichu.clock import FrozenClock
from kuaichu.db import Database
from kuaichu.evidence.models import EvidenceItem
from kuaichu.geo.models import Jurisdiction
from kuaichu.messages import DEFAULT_LOCALE
from kuaichu.migrate import upgrade
from kuaichu.principal import Principal, Role
from kuaichu.settings import Settings
from kuaichu.signals import service
from kuaichu.signals.models import CaseSignal, LoginTrace, SignalOrder
from kuaichu.signals.rules import (
    SignalConfig,
    SignalName,
    far_report_point,
    hamming,
    late_report,
    repeated_identity,
    reused_still,
    shared_login,
)
from kuaichu.signals.service import Outcome, SignalJob, recompute_ordered
from kuaichu.signals.stills import perceptual_hash

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
XIHU_POINT = (30.26, 120.10)
# Metres per degree of latitude on the sphere the rule measures on (haversine).
METRES_PER_DEGREE = 111_195.08
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.0, 30.0], [120.4, 30.0], [120.4, 30.5], [120.0, 30.5], [120.0, 30.0]]],
}


@pytest.fixture
def config(tmp_path: Path) -> SignalConfig:
    """The thresholds as Settings has them by default: 3 accidents in 30 days, logins within
    24 hours, 1000 m, 120 minutes, 2 bits."""
    return SignalConfig.of(Settings(data_dir=tmp_path, phone_key_secret="signals-test-key"))


@dataclass(frozen=True)
class Person:
    phone: str
    plate_number: str
    id_number: str


def person(n: int) -> Person:
    return Person(f"1380000{n:04d}", f"浙A{n:05d}", id_number(serial=f"{n:03d}"))


def jurisdiction(session: Session, code: str = "330106") -> Jurisdiction:
    found = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()
    if found:
        return found
    area = Jurisdiction(code=code, name=f"辖区{code}", authority_name="测试交警大队", boundary=SQUARE)
    session.add(area)
    session.flush()
    return area


def add_case(
    session: Session,
    reported_at: datetime,
    *people: Person,
    occurred_at: datetime | None = None,
    point: tuple[float, float] = XIHU_POINT,
    code: str = "330106",
) -> Case:
    number = f"T{len(session.scalars(select(Case.id)).all()) + 1:05d}"
    case = Case(
        number=number,
        jurisdiction_id=jurisdiction(session, code).id,
        state=CaseState.EVACUATED.value,
        reporter_phone=people[0].phone if people else "13700000000",
        reported_at=reported_at,
        report_lat=point[0],
        report_lng=point[1],
        occurred_at=occurred_at,
        updated_at=reported_at,
    )
    case.parties = [
        CaseParty(
            position=i,
            name="张伟",
            phone=p.phone,
            id_number=p.id_number,
            licence_number=p.id_number,
            plate_number=p.plate_number,
            plate_type="02",
            vehicle_type="K33",
        )
        for i, p in enumerate(people, start=1)
    ]
    session.add(case)
    session.flush()
    return case


def officer(session: Session, code: str = "330106") -> Principal:
    return Principal(role=Role.OFFICER, id=1, jurisdiction_id=jurisdiction(session, code).id, label="民警")


SUPERVISOR = Principal(role=Role.SUPERVISOR, id=2, label="监管")


# The same plate, phone or ID number in N accidents within D days.


@pytest.mark.parametrize("field", ["plate_number", "phone", "id_number"])
def test_the_same_identifier_in_three_accidents_within_30_days_is_a_signal(
    database: Database, config: SignalConfig, field: str
) -> None:
    """A at T0, B exactly 30 days later, C a minute after B: B has A and C within 30 days (3
    accidents: fires); A has only B (C is a minute beyond): silent."""
    shared = getattr(person(1), field)

    def walk(session: Session) -> None:
        a, b, c = (
            add_case(session, at, replace(person(n), **{field: shared}), person(n + 10))
            for n, at in ((2, T0), (3, T0 + timedelta(days=30)), (4, T0 + timedelta(days=30, minutes=1)))
        )
        assert repeated_identity(session, a, config) == []
        (finding,) = repeated_identity(session, b, config)
        assert finding.name is SignalName.REPEATED_IDENTITY
        assert finding.detail == {
            "position": 1,
            "field": field,
            "count": 3,
            "days": 30,
            "cases": sorted([a.number, c.number]),
        }

    database.write_sync(walk)


def test_the_reason_names_the_identifier_in_full_only_for_those_who_handle_the_case(
    database: Database, config: SignalConfig
) -> None:
    zhang = person(1)

    def walk(session: Session) -> None:
        for days in (0, 5, 10):
            latest = add_case(session, T0 + timedelta(days=days), zhang, person(20 + days))
        service.refresh(session, latest, config, T0)
        rows = session.scalars(select(CaseSignal).where(CaseSignal.case_id == latest.id))
        (row,) = [r for r in rows if r.detail["field"] == "phone"]
        for_officer = service.reason_of(latest, row, officer(session), DEFAULT_LOCALE)
        for_supervisor = service.reason_of(latest, row, SUPERVISOR, DEFAULT_LOCALE)
        assert for_officer.startswith("当事人1的电话13800000001在30天内共有3起事故")
        assert "138****0001" in for_supervisor and "13800000001" not in for_supervisor

    database.write_sync(walk)


# Both parties' logins from one device or one address.


@pytest.mark.parametrize(
    ("second_login", "minutes_before", "via"),
    [
        (("phone-of-zhang", "10.0.0.9"), 60, "device"),
        (("phone-of-li", "10.0.0.1"), 60, "address"),
        (("phone-of-li", "10.0.0.9"), 60, None),
        (("phone-of-zhang", "10.0.0.9"), 24 * 60, "device"),
        (("phone-of-zhang", "10.0.0.9"), 24 * 60 + 1, None),
    ],
)
def test_two_parties_logged_in_from_one_device_or_address(
    database: Database,
    config: SignalConfig,
    second_login: tuple[str, str],
    minutes_before: int,
    via: str | None,
) -> None:
    """张伟 logs in on his phone at 10.0.0.1 at the report; 李娜's login is `second_login`
    (device, address) `minutes_before` the report: the window is 24 hours."""
    zhang, li = person(1), person(2)

    def walk(session: Session) -> None:
        case = add_case(session, T0, zhang, li)
        service.record_login(session, config, zhang.phone, "10.0.0.1", "phone-of-zhang", T0)
        device, address = second_login
        at = T0 - timedelta(minutes=minutes_before)
        service.record_login(session, config, li.phone, address, device, at)
        findings = shared_login(session, case, config)
        if via is None:
            assert findings == []
        else:
            assert [f.detail for f in findings] == [{"positions": [1, 2], "via": via}]

    database.write_sync(walk)


def test_one_person_recorded_twice_is_not_two_parties_sharing_a_device(
    database: Database, config: SignalConfig
) -> None:
    zhang = person(1)

    def walk(session: Session) -> None:
        case = add_case(session, T0, zhang, replace(person(2), phone=zhang.phone))
        service.record_login(session, config, zhang.phone, "10.0.0.1", "phone-of-zhang", T0)
        assert shared_login(session, case, config) == []

    database.write_sync(walk)


def test_login_traces_hold_hashes_only(database: Database, config: SignalConfig) -> None:
    def walk(session: Session) -> None:
        service.record_login(session, config, "13800000001", "10.0.0.1", "phone-a", T0)
        session.flush()
        (trace,) = session.scalars(select(LoginTrace))
        kept = (trace.phone_key, trace.address_hash, trace.device_hash)
        assert all(len(value) == 64 for value in kept)
        assert not {"13800000001", "10.0.0.1", "phone-a"} & set(kept)

    database.write_sync(walk)


# The reported GPS point far from the place recorded.


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + metres / METRES_PER_DEGREE, point[1]


@pytest.mark.parametrize(("metres", "fires"), [(990, False), (1010, True)])
def test_the_operator_placing_the_accident_far_from_the_reported_point(
    database: Database, config: SignalConfig, metres: int, fires: bool
) -> None:
    def walk(session: Session) -> None:
        case = add_case(session, T0, person(1), person(2))
        service.keep_reported_point(session, case.id)
        # The operator's facts move the case's point (what PUT /facts with lat/lng does).
        case.report_lat, case.report_lng = north_of(XIHU_POINT, metres)
        findings = far_report_point(session, case, config)
        assert [f.detail for f in findings] == ([{"metres": metres, "threshold": 1000}] if fires else [])

    database.write_sync(walk)


def test_a_still_taken_far_from_the_reported_point(database: Database, config: SignalConfig) -> None:
    def walk(session: Session) -> None:
        case = add_case(session, T0, person(1), person(2))
        still(session, case, north_of(XIHU_POINT, 1500))
        assert [f.detail for f in far_report_point(session, case, config)] == [
            {"metres": 1500, "threshold": 1000}
        ]

    database.write_sync(walk)


def test_no_reported_point_when_the_party_picked_the_district_by_hand(
    database: Database, config: SignalConfig
) -> None:
    def walk(session: Session) -> None:
        case = add_case(session, T0, person(1), person(2))
        session.add(
            TimelineEvent(
                case_id=case.id,
                at=T0,
                kind=EventKind.REPORT.value,
                state_after=CaseState.QUEUED.value,
                actor_role=Role.PARTY.value,
                actor_label="当事人",
                detail={"jurisdiction": "辖区330106", "location": "manual"},
            )
        )
        service.keep_reported_point(session, case.id)
        still(session, case, north_of(XIHU_POINT, 5000))
        assert far_report_point(session, case, config) == []

    database.write_sync(walk)


# A report long after the stated time of the accident.


@pytest.mark.parametrize(("minutes", "fires"), [(120, False), (121, True)])
def test_a_report_long_after_the_accident(
    database: Database, config: SignalConfig, minutes: int, fires: bool
) -> None:
    def walk(session: Session) -> None:
        case = add_case(session, T0, person(1), occurred_at=T0 - timedelta(minutes=minutes))
        expected = [{"minutes": minutes, "threshold": 120}] if fires else []
        assert [f.detail for f in late_report(session, case, config)] == expected
        case.occurred_at = None
        assert late_report(session, case, config) == []

    database.write_sync(walk)


# The same still in two cases.

PHASH = "952db59144525b7e"


def flipped(phash: str, mask: int) -> str:
    """`phash` with the bits of `mask` flipped."""
    return f"{int(phash, 16) ^ mask:016x}"


def still(
    session: Session, case: Case, point: tuple[float, float] | None = None, phash: str | None = None
) -> None:
    item = EvidenceItem(
        case_id=case.id,
        sha256=f"{case.id:064x}",
        size=1,
        media_type="image/jpeg",
        kind="side_by_side",
        uploaded_at=case.reported_at,
        uploaded_by_role=Role.OPERATOR.value,
        uploaded_by_id=None,
        uploaded_by_label="接警员",
        lat=point[0] if point else None,
        lng=point[1] if point else None,
        party_position=None,
    )
    session.add(item)
    session.flush()
    service.record_still_hash(session, item.id, case.id, phash)


def test_the_same_still_in_two_cases_shows_on_both(database: Database, config: SignalConfig) -> None:
    """Within 2 bits: the same picture (both cases show it, the earlier one computed again);
    3 bits: another picture."""

    def walk(session: Session) -> None:
        first, second, third = (add_case(session, T0, person(n)) for n in (1, 2, 3))
        still(session, first, phash=PHASH)
        still(session, second, phash=flipped(PHASH, 0b11))
        still(session, third, phash=flipped(PHASH, 0b111 << 60))
        assert hamming(PHASH, flipped(PHASH, 0b11)) == 2
        service.refresh(session, second, config, T0)
        assert reused_still(session, third, config) == []
        return first, second

    first, second = database.write_sync(walk)
    # The first case is computed again by the signal job, after the second's transaction.
    assert stored_details(database) == {second.id: {"cases": [first.number]}}
    assert database.write_sync(lambda s: recompute_ordered(s, config, T0, T0)) is Outcome.COMPUTED
    assert stored_details(database) == {
        first.id: {"cases": [second.number]},
        second.id: {"cases": [first.number]},
    }


def stored_details(database: Database) -> dict[int, dict[str, object]]:
    rows = database.write_sync(lambda s: s.execute(select(CaseSignal.case_id, CaseSignal.detail)).all())
    return dict(rows)


def picture(seed: int) -> Image.Image:
    image = Image.new("RGB", (1280, 720), (110, 120, 130))
    draw = ImageDraw.Draw(image)
    for i in range(24):
        x, y = (i * 53 * seed) % 1180, (i * 37 + seed * 91) % 620
        draw.rectangle(
            [x, y, x + 90, y + 100], fill=((i * 40 + seed * 70) % 255, (200 - i * 7) % 255, i * 10)
        )
    return image


def jpeg(image: Image.Image, quality: int = 90) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out


def test_a_perceptual_hash_knows_a_picture_again_and_tells_others_apart() -> None:
    original = perceptual_hash(jpeg(picture(1)))
    recompressed = perceptual_hash(jpeg(picture(1).resize((640, 360)), quality=50))
    other = perceptual_hash(jpeg(picture(2)))
    assert original and recompressed and other
    assert hamming(original, recompressed) <= 2
    assert hamming(original, other) > 10
    # No picture, or a blank frame (every blank frame hashes alike): nothing to match.
    assert perceptual_hash(io.BytesIO(b"\xff\xd8\xff\xe0not a picture")) is None
    assert perceptual_hash(jpeg(Image.new("RGB", (64, 64)))) is None


# Stored, listed and filtered.


def test_signals_are_listed_and_filtered_within_the_viewers_scope(
    database: Database, config: SignalConfig
) -> None:
    def walk(session: Session) -> None:
        late = add_case(session, T0, person(1), occurred_at=T0 - timedelta(hours=5))
        elsewhere = add_case(session, T0, person(2), occurred_at=T0 - timedelta(hours=5), code="330102")
        quiet = add_case(session, T0, person(3), occurred_at=T0)
        for case in (late, elsewhere, quiet):
            service.refresh(session, case, config, T0)
        xihu = officer(session)

        def numbers(viewer: Principal, **filters: object) -> list[str]:
            return [c.number for c in service.flagged_cases(session, viewer, T0, **filters)]  # type: ignore[arg-type]

        assert numbers(xihu) == [late.number]
        assert numbers(xihu, name=SignalName.LATE_REPORT) == [late.number]
        assert numbers(xihu, name=SignalName.REUSED_STILL) == []
        assert numbers(xihu, state=CaseState.DETERMINED) == []
        assert sorted(numbers(SUPERVISOR, name=SignalName.LATE_REPORT)) == sorted(
            [late.number, elsewhere.number]
        )
        (listed,) = service.flagged_cases(session, xihu, T0)
        assert [(s.name, s.reason) for s in listed.signals] == [
            ("late_report", "报警比记录的事故时间晚300分钟（提示阈值120分钟）")
        ]
        assert service.case_signals(session, xihu, quiet.id, T0) == []

    database.write_sync(walk)


def test_the_cross_case_queries_on_a_fresh_postgresql(fresh_postgres: str, config: SignalConfig) -> None:
    upgrade(fresh_postgres)
    database = Database(fresh_postgres)
    try:

        def walk(session: Session) -> None:
            zhang = person(1)
            cases = [add_case(session, T0 + timedelta(days=d), zhang, person(10 + d)) for d in (0, 1, 2)]
            for case in cases:
                still(session, case, phash=PHASH)
            service.refresh(session, cases[-1], config, T0)
            while recompute_ordered(session, config, T0, T0) is not Outcome.NOTHING_DUE:
                pass
            names = session.execute(select(CaseSignal.case_id, CaseSignal.name)).all()
            # The last case and the two it names, each with the plate, the phone, the ID and the still.
            for case in cases:
                found = sorted(name for case_id, name in names if case_id == case.id)
                assert found == ["repeated_identity"] * 3 + ["reused_still"]

        database.write_sync(walk)
    finally:
        database.dispose()


# The other cases a cross-case finding names: computed again by the signal job, after the commit.


def order_rows(database: Database) -> list[tuple[int, int]]:
    """(case id, attempts) of every order waiting, oldest first."""
    query = select(SignalOrder.case_id, SignalOrder.attempts).order_by(SignalOrder.id)
    return [tuple(row) for row in database.write_sync(lambda s: s.execute(query).all())]  # type: ignore[misc]


def signal_names(database: Database, case: Case) -> list[str]:
    query = select(CaseSignal.name).where(CaseSignal.case_id == case.id).order_by(CaseSignal.name)
    return list(database.write_sync(lambda s: s.scalars(query).all()))


def test_several_orders_naming_a_case_are_one_computation_and_a_failing_one_waits_alone(
    database: Database, config: SignalConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """张伟's third accident in 30 days names the two before it, twice (collection complete,
    then evacuation): four orders, two computations. The second case's computation fails: it
    keeps its previous signals, its orders are put off 5 s, and the first case is not held up."""
    zhang = person(1)

    def accidents(session: Session) -> tuple[Case, Case, Case]:
        first = add_case(session, T0, zhang, person(11))
        second = add_case(
            session, T0 + timedelta(days=1), zhang, person(12), occurred_at=T0 - timedelta(hours=5)
        )
        service.refresh(session, second, config, T0)  # late: its one signal until now
        third = add_case(session, T0 + timedelta(days=2), zhang, person(13))
        service.refresh(session, third, config, T0)
        service.refresh(session, third, config, T0)
        return first, second, third

    first, second, third = database.write_sync(accidents)
    assert order_rows(database) == [(first.id, 0), (second.id, 0), (first.id, 0), (second.id, 0)]
    assert signal_names(database, third) == ["repeated_identity"] * 3
    assert signal_names(database, first) == []
    assert signal_names(database, second) == ["late_report"]

    computed = service.findings_of

    def failing_for_second(session: Session, case: Case, config: SignalConfig) -> list[service.Finding]:
        if case.id == second.id:
            raise ValueError("a rule met data it cannot read")
        return computed(session, case, config)

    monkeypatch.setattr(service, "findings_of", failing_for_second)

    def run(due: datetime) -> Outcome:
        return database.write_sync(lambda s: recompute_ordered(s, config, due, due))

    assert [run(T0), run(T0), run(T0)] == [Outcome.COMPUTED, Outcome.PUT_OFF, Outcome.NOTHING_DUE]
    assert signal_names(database, first) == ["repeated_identity"] * 3  # once, not once per order
    assert signal_names(database, second) == ["late_report"]
    assert order_rows(database) == [(second.id, 1), (second.id, 1)]
    (error,) = set(database.write_sync(lambda s: s.scalars(select(SignalOrder.last_error)).all()))
    assert error is not None and "ValueError" in error

    monkeypatch.setattr(service, "findings_of", computed)
    assert run(T0 + timedelta(seconds=4)) is Outcome.NOTHING_DUE
    assert run(T0 + timedelta(seconds=5)) is Outcome.COMPUTED
    assert signal_names(database, second) == ["late_report"] + ["repeated_identity"] * 3
    assert order_rows(database) == []


@requires_postgres
@pytest.mark.postgres
def test_an_order_another_process_holds_is_passed_over_not_waited_for(
    postgres_url: str, config: SignalConfig
) -> None:
    """Two processes run the job: one holds the first case's order (its transaction open), the
    other takes the next order instead of waiting, and leaves the held one to its holder."""
    empty_postgres(postgres_url)
    database = Database(postgres_url)
    try:
        zhang = person(1)

        def accidents(session: Session) -> list[Case]:
            cases = [add_case(session, T0 + timedelta(days=d), zhang, person(10 + d)) for d in (0, 1, 2)]
            service.refresh(session, cases[-1], config, T0)
            return cases

        first, second, _ = database.write_sync(accidents)
        held = select(SignalOrder).where(SignalOrder.case_id == first.id).with_for_update()
        with database.writer.connect() as other, other.begin():
            other.execute(held)
            assert database.write_sync(lambda s: recompute_ordered(s, config, T0, T0)) is Outcome.COMPUTED
            assert database.write_sync(lambda s: recompute_ordered(s, config, T0, T0)) is Outcome.NOTHING_DUE
        assert order_rows(database) == [(first.id, 0)]
        assert signal_names(database, second) == ["repeated_identity"] * 3
        assert signal_names(database, first) == []
    finally:
        database.dispose()


def signal_rows(database: Database) -> list[tuple[int, str, str]]:
    """(case id, name, detail) of every stored signal, in a stable order."""
    rows = database.write_sync(
        lambda s: s.execute(select(CaseSignal.case_id, CaseSignal.name, CaseSignal.detail)).all()
    )
    return sorted((case_id, name, json.dumps(detail, sort_keys=True)) for case_id, name, detail in rows)


@requires_postgres
@pytest.mark.postgres
async def test_two_processes_running_the_job_at_once_store_what_one_would_alone(
    postgres_url: str, config: SignalConfig
) -> None:
    """张伟 in eight accidents within 30 days: each later case names the ones before it, so
    dozens of orders name the same few cases. Two processes' jobs (each its own connections)
    run at once: every order is carried out, nothing deadlocks, and the signals stored are
    exactly those one job computes alone afterwards, never a row twice."""
    empty_postgres(postgres_url)
    processes = [Database(postgres_url) for _ in range(2)]
    first = processes[0]
    try:

        def accidents(session: Session) -> list[Case]:
            cases = [add_case(session, T0 + timedelta(days=d), person(1), person(10 + d)) for d in range(8)]
            for case in cases[2:]:
                service.refresh(session, case, config, T0)
            return cases

        cases = first.write_sync(accidents)
        assert len(order_rows(first)) > 2 * len(cases)
        jobs = [SignalJob(database, FrozenClock(T0), config) for database in processes]

        await asyncio.gather(*(job.run_once() for job in jobs))

        assert order_rows(first) == []
        together = signal_rows(first)
        assert together and len(together) == len(set(together))

        def order_every_case(session: Session) -> None:
            session.add_all(SignalOrder(case_id=c.id, ordered_at=T0, next_attempt_at=T0) for c in cases)

        first.write_sync(order_every_case)
        assert await jobs[0].run_once() == len(cases)
        assert signal_rows(first) == together
    finally:
        for database in processes:
            database.dispose()
