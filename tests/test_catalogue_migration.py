"""Migration 0018: a database whose cases hold the lists' Chinese words reads codes after the
upgrade (and the words again after the downgrade), on SQLite and on PostgreSQL."""

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from kuaichu.db import UtcDateTime, normalise_url
from kuaichu.migrate import alembic_config, upgrade
from kuaichu.registries.service import PartyToCheck, subject_of

# Just before this revision (the one it revises), the other branches as they are.
BEFORE_CODES = "0017_media_rooms"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)

# The tables as they stood before the codes, only the columns these rows need.
jurisdictions = sa.table(
    "jurisdictions",
    sa.column("id"),
    sa.column("code"),
    sa.column("name"),
    sa.column("authority_name"),
    sa.column("boundary", sa.JSON),
)
cases = sa.table(
    "cases",
    sa.column("id"),
    sa.column("number"),
    sa.column("jurisdiction_id"),
    sa.column("state"),
    sa.column("reporter_phone"),
    sa.column("reported_at", UtcDateTime),
    sa.column("report_lat"),
    sa.column("report_lng"),
    sa.column("updated_at", UtcDateTime),
    sa.column("accident_type"),
    sa.column("weather"),
)
PARTY = {
    "name": "李娜",
    "licence_number": "330106198503124563",
    "plate_number": "浙A54321",
    "plate_type": "02",
    "policy_number": None,
}
case_parties = sa.table(
    "case_parties",
    *(
        sa.column(name)
        for name in ("id", "case_id", "position", "phone", "id_number", "vehicle_type", *PARTY)
    ),
)
registry_vehicles = sa.table(
    "registry_vehicles",
    *(sa.column(name) for name in ("plate_number", "plate_type", "owner", "vehicle_type", "status")),
    sa.column("inspection_valid_until", sa.Date),
)
registry_checks = sa.table(
    "registry_checks",
    *(sa.column(name) for name in ("id", "case_id", "party_position", "subject", "kind", "outcome")),
    sa.column("failures", sa.JSON),
    sa.column("found", sa.JSON),
    sa.column("checked_at", UtcDateTime),
)


def subject(vehicle_type: str) -> str:
    """The digest a check of 李娜's entry carries (kuaichu.registries.service.subject_of)."""
    return subject_of(PartyToCheck(position=1, vehicle_type=vehicle_type, **PARTY))


def a_case_recorded_in_words(connection: sa.Connection) -> None:
    """A rear-end collision in strong wind, 李娜's car checked against the registry."""
    square = {"type": "Polygon", "coordinates": [[[120, 30], [120.2, 30], [120.2, 30.3], [120, 30]]]}
    connection.execute(
        jurisdictions.insert().values(
            id=1, code="330106", name="西湖区", authority_name="西湖大队", boundary=square
        )
    )
    connection.execute(
        cases.insert().values(
            id=1,
            number="33010620261125001",
            jurisdiction_id=1,
            state="collected",
            reporter_phone="13800000001",
            reported_at=NOW,
            report_lat=30.26,
            report_lng=120.10,
            updated_at=NOW,
            accident_type="追尾",
            weather="大风",
        )
    )
    connection.execute(
        case_parties.insert().values(
            id=1,
            case_id=1,
            position=1,
            phone="13900000002",
            id_number=PARTY["licence_number"],
            vehicle_type="小型轿车",
            **PARTY,
        )
    )
    connection.execute(
        registry_vehicles.insert().values(
            plate_number="浙A54321",
            plate_type="02",
            owner="李娜",
            vehicle_type="轻型普通货车",
            status="正常",
            inspection_valid_until=date(2027, 6, 30),
        )
    )
    connection.execute(
        registry_checks.insert().values(
            id=1,
            case_id=1,
            party_position=1,
            subject=subject("小型轿车"),
            kind="vehicle",
            outcome="failed",
            failures=[
                {
                    "code": "vehicle_type_mismatch",
                    "reason": "登记车辆类型为轻型普通货车，与现场记录的小型轿车不符",
                    "params": {"registered": "轻型普通货车", "recorded": "小型轿车"},
                }
            ],
            found={"owner": "李娜", "vehicle_type": "轻型普通货车", "status": "正常"},
            checked_at=NOW,
        )
    )


def stored(connection: sa.Connection) -> dict[str, Any]:
    case = connection.execute(sa.select(cases.c.accident_type, cases.c.weather)).one()
    check = connection.execute(sa.select(registry_checks)).mappings().one()
    return {
        "accident_type": case.accident_type,
        "weather": case.weather,
        "party": connection.execute(sa.select(case_parties.c.vehicle_type)).scalar_one(),
        "registry": connection.execute(sa.select(registry_vehicles.c.vehicle_type)).scalar_one(),
        "found": check["found"]["vehicle_type"],
        "params": check["failures"][0]["params"],
        "reason": check["failures"][0]["reason"],
        "subject": check["subject"],
    }


def test_the_migration_rewrites_the_stored_words_as_codes_and_back(fresh_url: str) -> None:
    upgrade(fresh_url)
    config = alembic_config(fresh_url)
    command.downgrade(config, BEFORE_CODES)
    engine = sa.create_engine(normalise_url(fresh_url))
    try:
        with engine.begin() as connection:
            a_case_recorded_in_words(connection)
        words = {
            "accident_type": "追尾",
            "weather": "大风",
            "party": "小型轿车",
            "registry": "轻型普通货车",
            "found": "轻型普通货车",
            "params": {"registered": "轻型普通货车", "recorded": "小型轿车"},
            "reason": "登记车辆类型为轻型普通货车，与现场记录的小型轿车不符",
            "subject": subject("小型轿车"),
        }

        upgrade(fresh_url)
        with engine.connect() as connection:
            assert stored(connection) == {
                "accident_type": "rear_end",
                "weather": "strong_wind",
                "party": "K33",
                "registry": "H31",
                "found": "H31",
                "params": {"registered": "H31", "recorded": "K33"},
                # What the operator was shown stays as it was said, for the record.
                "reason": words["reason"],
                # Still the check of 李娜's entry as it now reads.
                "subject": subject("K33"),
            }

        command.downgrade(config, BEFORE_CODES)
        with engine.connect() as connection:
            assert stored(connection) == words
    finally:
        engine.dispose()
