"""Demo data: a small city of three jurisdictions with their staff, and three insurers."""

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer, User
from kuaichu.auth.service import create_insurer, create_user
from kuaichu.cases.catalogue import PlateType, VehicleType
from kuaichu.clock import local
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.messages import DEFAULT_LOCALE
from kuaichu.principal import Role
from kuaichu.registries import checks
from kuaichu.registries.synthetic import demo_drivers, seed_reference_registry

DEMO_JURISDICTIONS = Path(__file__).parent / "jurisdictions.geojson"
DEMO_PASSWORD = "kuaichu-demo"
INSURERS = (
    ("PICC", "中国人民财产保险"),
    ("CPIC", "中国太平洋财产保险"),
    ("PAIC", "中国平安财产保险"),
)


@dataclass(frozen=True)
class DemoDriver:
    """One of the demo's named drivers as a newcomer types them in, and what the checks find."""

    name: str
    phone: str
    id_number: str  # also the licence number
    plate_number: str
    # As the console's lists show them (its default language): 小型汽车, 小型轿车.
    plate_type: str
    vehicle_type: str
    findings: list[str]  # the registry checks' failure reasons; empty: every check passes


@dataclass
class DemoLogins:
    staff: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, unit
    api_keys: list[tuple[str, str]] = field(default_factory=list)  # insurer code, key
    drivers: list[DemoDriver] = field(default_factory=list)


def describe_demo_drivers(today: date) -> list[DemoDriver]:
    """The demo drivers with the outcome of the same checks the console runs on them (entered as
    the registry knows them, on an accident today), so one can pick a clean case or a failing one."""
    drivers = []
    for person in demo_drivers(today):
        licence, vehicle = person.licence, person.vehicle
        found = [
            checks.check_licence(licence, person.name, vehicle.vehicle_type, today),
            checks.check_vehicle(vehicle, vehicle.plate_number, vehicle.vehicle_type, today),
            checks.check_insurance(
                [person.policy] if person.policy else [],
                person.policy.policy_number if person.policy else None,
                today,
            ),
        ]
        drivers.append(
            DemoDriver(
                name=person.name,
                phone=person.phone,
                id_number=licence.number,
                plate_number=vehicle.plate_number,
                plate_type=PlateType(vehicle.plate_type).label(DEFAULT_LOCALE),
                vehicle_type=VehicleType(vehicle.vehicle_type).label(DEFAULT_LOCALE),
                findings=[failure.reason for finding in found for failure in finding.failures],
            )
        )
    return drivers


def seed_demo(session: Session, now: datetime) -> DemoLogins:
    """Idempotent: a second run adds nothing and reports no new keys."""
    logins = DemoLogins()
    jurisdictions = import_jurisdictions(session, read_feature_collection(DEMO_JURISDICTIONS))
    existing = set(session.scalars(select(User.username)))
    badge = 10001
    for jurisdiction in jurisdictions:
        for role, prefix, name in (
            (Role.OPERATOR, "op", "接警员"),
            (Role.OPERATOR, "op2", "接警员"),
            (Role.OFFICER, "officer", "民警"),
            (Role.OFFICER, "officer2", "民警"),
        ):
            username = f"{prefix}-{jurisdiction.code}"
            badge += 1
            logins.staff.append((username, role.value, jurisdiction.name))
            if username not in existing:
                create_user(
                    session,
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    display_name=f"{jurisdiction.name}{name}{prefix[-1] if prefix[-1].isdigit() else '1'}",
                    jurisdiction_id=jurisdiction.id,
                    badge_number=str(badge) if role is Role.OFFICER else None,
                    now=now,
                )
    for username, role, name in (
        ("reviewer", Role.REVIEWER, "支队复核民警"),
        ("supervisor", Role.SUPERVISOR, "支队监管员"),
        ("admin", Role.ADMIN, "系统管理员"),
    ):
        logins.staff.append((username, role.value, "示范市交警支队"))
        if username not in existing:
            create_user(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=name,
                now=now,
            )
    known = set(session.scalars(select(Insurer.code)))
    for code, name in INSURERS:
        if code not in known:
            _, key = create_insurer(session, code=code, name=name, webhook_url=None, now=now)
            logins.api_keys.append((code, key))
    today = local(now).date()
    seed_reference_registry(session, INSURERS, today)
    logins.drivers = describe_demo_drivers(today)
    return logins
