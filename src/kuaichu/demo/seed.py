"""Demo data: a small city of three jurisdictions with their staff, and three insurers."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer, User
from kuaichu.auth.principal import Role
from kuaichu.auth.service import create_insurer, create_user
from kuaichu.clock import local
from kuaichu.geo.service import import_jurisdictions, read_feature_collection
from kuaichu.registries.synthetic import seed_reference_registry

DEMO_JURISDICTIONS = Path(__file__).parent / "jurisdictions.geojson"
DEMO_PASSWORD = "kuaichu-demo"
INSURERS = (
    ("PICC", "中国人民财产保险"),
    ("CPIC", "中国太平洋财产保险"),
    ("PAIC", "中国平安财产保险"),
)


@dataclass
class DemoLogins:
    staff: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, unit
    api_keys: list[tuple[str, str]] = field(default_factory=list)  # insurer code, key


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
    seed_reference_registry(session, INSURERS, local(now).date())
    return logins
