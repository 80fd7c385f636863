"""catalogue codes: accident types, weather and vehicle types are stored as codes, not Chinese

The facts of a case (accident type, weather), each party's vehicle type and the reference
registry's vehicles held the Chinese words of the lists; they now hold the lists' codes
(kuaichu.cases.catalogue), labelled from the message catalogue. The registry checks already
stored say what they found in the same codes, and each check's subject (the digest of the party's
entry it checked) is recomputed, so a check stays the check of the party as entered.
What was sent (the outbox) and the audit trail are records and stay as they were.

Revision ID: 0018_catalogue_codes
Revises: 0017_media_rooms
Create Date: 2026-11-28 09:00:00
"""

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018_catalogue_codes"
down_revision: str | None = "0017_media_rooms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0002_back_office"  # the registry tables it rewrites

# The lists as they stand at this revision (a migration never imports the code it migrates).
ACCIDENT_TYPES = {
    "追尾": "rear_end",
    "变更车道": "lane_change",
    "倒车": "reversing",
    "溜车": "rolling",
    "开关车门": "door",
    "逆行": "wrong_way",
    "闯红灯": "signal",
    "未按规定让行": "fail_to_yield",
    "违法停车": "illegal_parking",
    "掉头": "u_turn",
    "单方事故": "single_vehicle",
    "其他": "other",
}
WEATHER = {
    "晴": "clear",
    "阴": "overcast",
    "雨": "rain",
    "雪": "snow",
    "雾": "fog",
    "大风": "strong_wind",
    "沙尘": "sand_dust",
    "冰雹": "hail",
}
# GA 24.4 vehicle type codes.
VEHICLE_TYPES = {
    "小型轿车": "K33",
    "小型普通客车": "K31",
    "小型越野客车": "K32",
    "中型普通客车": "K21",
    "大型普通客车": "K11",
    "轻型普通货车": "H31",
    "中型普通货车": "H21",
    "重型普通货车": "H11",
    "重型半挂牵引车": "Q11",
    "普通二轮摩托车": "M21",
}
# The failure params that name a vehicle type (kuaichu.registries.checks).
VEHICLE_TYPE_PARAMS = ("vehicle_type", "registered", "recorded")

cases = sa.table("cases", sa.column("id"), sa.column("accident_type"), sa.column("weather"))
case_parties = sa.table(
    "case_parties",
    sa.column("case_id"),
    sa.column("position"),
    sa.column("name"),
    sa.column("licence_number"),
    sa.column("plate_number"),
    sa.column("plate_type"),
    sa.column("vehicle_type"),
    sa.column("policy_number"),
)
registry_vehicles = sa.table("registry_vehicles", sa.column("vehicle_type"))
registry_checks = sa.table(
    "registry_checks",
    sa.column("id"),
    sa.column("case_id"),
    sa.column("party_position"),
    sa.column("subject"),
    sa.column("failures", sa.JSON),
    sa.column("found", sa.JSON),
)


def upgrade() -> None:
    # A weather code is longer than the word was (strong_wind, 大风).
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("weather", existing_type=sa.String(length=8), type_=sa.String(length=16))
    _rewrite(ACCIDENT_TYPES, WEATHER, VEHICLE_TYPES)


def downgrade() -> None:
    words = (
        {code: word for word, code in codes.items()} for codes in (ACCIDENT_TYPES, WEATHER, VEHICLE_TYPES)
    )
    _rewrite(*words)
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("weather", existing_type=sa.String(length=16), type_=sa.String(length=8))


def _rewrite(
    accident_types: Mapping[str, str], weather: Mapping[str, str], vehicle_types: Mapping[str, str]
) -> None:
    """Every stored value found in a mapping becomes its image; anything else stays."""
    connection = op.get_bind()
    for column, mapping in ((cases.c.accident_type, accident_types), (cases.c.weather, weather)):
        _replace(connection, cases, column, mapping)
    # The checks' subjects are the digests of the party entries before the parties change.
    subjects = _subjects(connection, vehicle_types)
    _replace(connection, case_parties, case_parties.c.vehicle_type, vehicle_types)
    _replace(connection, registry_vehicles, registry_vehicles.c.vehicle_type, vehicle_types)
    for row in connection.execute(sa.select(registry_checks)).mappings():
        found = _mapped(row["found"] or {}, ("vehicle_type",), vehicle_types)
        failures = [
            failure | {"params": _mapped(failure.get("params") or {}, VEHICLE_TYPE_PARAMS, vehicle_types)}
            if "params" in failure
            else failure
            for failure in row["failures"] or []
        ]
        subject = subjects.get((row["case_id"], row["party_position"], row["subject"]), row["subject"])
        if (found, failures, subject) != (row["found"] or {}, row["failures"] or [], row["subject"]):
            connection.execute(
                registry_checks.update()
                .where(registry_checks.c.id == row["id"])
                .values(found=found, failures=failures, subject=subject)
            )


def _replace(
    connection: sa.Connection, table: sa.TableClause, column: sa.ColumnClause[Any], mapping: Mapping[str, str]
) -> None:
    for old, new in mapping.items():
        connection.execute(table.update().where(column == old).values({column.name: new}))


def _mapped(values: dict[str, Any], keys: Sequence[str], mapping: Mapping[str, str]) -> dict[str, Any]:
    return values | {key: mapping[values[key]] for key in keys if values.get(key) in mapping}


def _subject(party: Mapping[str, Any], vehicle_type: str) -> str:
    """kuaichu.registries.service.subject_of at this revision: the digest of the entry checked."""
    entered = [
        party["name"],
        party["licence_number"],
        party["plate_number"],
        party["plate_type"],
        vehicle_type,
        party["policy_number"],
    ]
    return hashlib.sha256("|".join(str(value) for value in entered).encode()).hexdigest()


def _subjects(connection: sa.Connection, vehicle_types: Mapping[str, str]) -> dict[tuple[int, int, str], str]:
    """(case, position, the party's digest now) -> its digest once its vehicle type is rewritten."""
    subjects = {}
    for party in connection.execute(sa.select(case_parties)).mappings():
        if party["vehicle_type"] in vehicle_types:
            key = (party["case_id"], party["position"], _subject(party, party["vehicle_type"]))
            subjects[key] = _subject(party, vehicle_types[party["vehicle_type"]])
    return subjects
