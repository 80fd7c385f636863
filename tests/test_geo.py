"""A report's point picks its jurisdiction: among the boundaries whose box holds the point, the
one whose polygon covers it. Each boundary's box and digest are kept with it (migrations 0033
and 0034 add them to the jurisdictions stored before), and a process decodes each boundary
once."""

from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from conftest import XIHU, Api
from shapely.errors import GeometryTypeError
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from kuaichu.db import Database, normalise_url
from kuaichu.errors import InvalidInput
from kuaichu.geo.models import Jurisdiction, digest_of
from kuaichu.geo.service import import_jurisdictions, locate
from kuaichu.messages import text
from kuaichu.migrate import alembic_config, upgrade
from kuaichu.principal import Role

BEFORE_BOXES = "0032_signal_orders"


def polygon(*corners: tuple[float, float]) -> dict[str, Any]:
    """A GeoJSON polygon through these (lng, lat) corners, closed."""
    ring = [list(corner) for corner in (*corners, corners[0])]
    return {"type": "Polygon", "coordinates": [ring]}


# An L-shaped district and its neighbour in the L's corner: the L's box holds the neighbour.
L_SHAPED = polygon((120.0, 30.0), (120.2, 30.0), (120.2, 30.1), (120.1, 30.1), (120.1, 30.2), (120.0, 30.2))
IN_THE_CORNER = polygon((120.1, 30.1), (120.2, 30.1), (120.2, 30.2), (120.1, 30.2))


def feature(code: str, boundary: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": f"辖区{code}", "authority_name": f"交警大队{code}"},
        "geometry": boundary,
    }


def districts(database: Database, *features: dict[str, Any]) -> None:
    database.write_sync(lambda s: import_jurisdictions(s, list(features)))


async def located(database: Database, lat: float, lng: float) -> str:
    return await database.read(lambda s: locate(s, lat, lng).code)


async def refused(database: Database, lat: float, lng: float) -> str:
    with pytest.raises(InvalidInput) as error:
        await located(database, lat, lng)
    return error.value.detail


OUTSIDE = text("Geo.outside_service_area")


async def test_a_point_in_the_corner_of_an_l_shaped_district_is_its_neighbours(database: Database) -> None:
    districts(database, feature("330101", L_SHAPED), feature("330102", IN_THE_CORNER))

    assert await located(database, lat=30.15, lng=120.15) == "330102"
    assert await located(database, lat=30.05, lng=120.15) == "330101"
    assert await located(database, lat=30.15, lng=120.05) == "330101"


async def test_a_point_outside_every_boundary_is_outside_the_service_area(database: Database) -> None:
    districts(database, feature("330101", L_SHAPED))

    assert await refused(database, lat=31.2, lng=121.5) == OUTSIDE


async def test_a_boundary_imported_anew_moves_its_box_with_it(database: Database) -> None:
    districts(database, feature("330101", L_SHAPED))
    moved = polygon((121.0, 31.0), (121.2, 31.0), (121.2, 31.2), (121.0, 31.2))
    districts(database, feature("330101", moved))

    assert await refused(database, lat=30.05, lng=120.05) == OUTSIDE
    assert await located(database, lat=31.1, lng=121.1) == "330101"


async def test_a_point_decodes_only_the_boundaries_whose_box_holds_it(database: Database) -> None:
    """A far district whose stored boundary no longer decodes (written behind the model's back,
    with a digest but its box left as it was) troubles no point outside that box: locate never
    decodes it."""
    far_away = polygon((121.4, 31.1), (121.6, 31.1), (121.6, 31.3), (121.4, 31.3))
    # Its code sorts first: a locate that walked every district in code order would meet it first.
    districts(
        database, feature("310101", far_away), feature("330101", L_SHAPED), feature("330102", IN_THE_CORNER)
    )
    corrupt = {"type": "Corrupt", "coordinates": []}
    table = Jurisdiction.__table__
    database.write_sync(
        lambda s: s.execute(
            table.update()
            .where(table.c.code == "310101")
            .values(boundary=corrupt, boundary_digest=digest_of(corrupt))
        )
    )

    assert await located(database, lat=30.15, lng=120.15) == "330102"
    assert await located(database, lat=30.05, lng=120.05) == "330101"
    assert await refused(database, lat=29.0, lng=119.0) == OUTSIDE  # in no box: nothing decoded
    # The corruption is real: a point in its box does decode it.
    with pytest.raises(GeometryTypeError, match="corrupt"):
        await located(database, lat=31.2, lng=121.5)


async def test_a_boundary_is_decoded_once_not_for_every_report(database: Database) -> None:
    districts(database, feature("330101", L_SHAPED))

    def loads_the_boundary(session: Session) -> bool:
        jurisdiction = locate(session, lat=30.05, lng=120.05)
        return "boundary" not in inspect(jurisdiction).unloaded

    await database.read(loads_the_boundary)  # decoded here, or by an earlier test: same digest

    assert await database.read(loads_the_boundary) is False


def boundary_of(database: Database, code: str) -> dict[str, Any]:
    return database.write_sync(
        lambda s: s.scalar(select(Jurisdiction.boundary).where(Jurisdiction.code == code))
    )


async def test_a_boundary_written_behind_the_model_is_refused_and_changes_nothing(
    database: Database,
) -> None:
    """A hand-written UPDATE would keep the old digest and box: processes that decoded the old
    shape would go on locating by it (migration 0035)."""
    districts(database, feature("330101", L_SHAPED))
    behind_the_model = (
        sa.update(Jurisdiction.__table__).where(Jurisdiction.code == "330101").values(boundary=IN_THE_CORNER)
    )

    with pytest.raises(sa.exc.DBAPIError, match="boundary_digest"):
        database.write_sync(lambda s: s.execute(behind_the_model))

    assert boundary_of(database, "330101") == L_SHAPED
    assert await located(database, lat=30.05, lng=120.05) == "330101"


async def test_a_boundary_imported_anew_is_not_located_by_the_shape_decoded_before(
    database: Database,
) -> None:
    districts(database, feature("330101", L_SHAPED))
    assert await located(database, lat=30.05, lng=120.05) == "330101"  # its shape decoded and kept

    districts(database, feature("330101", IN_THE_CORNER))

    assert await refused(database, lat=30.05, lng=120.05) == OUTSIDE
    assert await located(database, lat=30.15, lng=120.15) == "330101"


async def test_the_same_boundary_imported_again_in_another_key_order_is_no_change(
    database: Database,
) -> None:
    districts(database, feature("330101", L_SHAPED))
    reordered = dict(reversed(list(L_SHAPED.items())))

    districts(database, feature("330101", reordered))

    assert boundary_of(database, "330101") == L_SHAPED


async def test_a_jurisdiction_without_a_boundary_is_located_by_no_point(database: Database) -> None:
    def unbounded(session: Session) -> None:
        session.add(Jurisdiction(code="330199", name="无边界", authority_name="测试大队", boundary={}))

    database.write_sync(unbounded)

    assert await refused(database, lat=30.05, lng=120.05) == OUTSIDE


async def test_the_migration_boxes_the_jurisdictions_stored_before_it(fresh_url: str) -> None:
    upgrade(fresh_url)
    command.downgrade(alembic_config(fresh_url), BEFORE_BOXES)
    engine = sa.create_engine(normalise_url(fresh_url))
    stored = sa.table(
        "jurisdictions",
        sa.column("code"),
        sa.column("name"),
        sa.column("authority_name"),
        sa.column("boundary", sa.JSON),
    )
    try:
        with engine.begin() as connection:
            connection.execute(
                stored.insert(),
                [
                    {"code": code, "name": code, "authority_name": code, "boundary": boundary}
                    for code, boundary in (("330101", L_SHAPED), ("330102", IN_THE_CORNER))
                ],
            )
    finally:
        engine.dispose()

    upgrade(fresh_url)

    database = Database(fresh_url)
    try:
        boxes = await database.read(
            lambda s: {
                j.code: (j.min_lng, j.min_lat, j.max_lng, j.max_lat)
                for j in s.scalars(select(Jurisdiction).order_by(Jurisdiction.code))
            }
        )
        assert boxes == {"330101": (120.0, 30.0, 120.2, 30.2), "330102": (120.1, 30.1, 120.2, 30.2)}
        digests = await database.read(
            lambda s: dict(s.execute(select(Jurisdiction.code, Jurisdiction.boundary_digest)).all())
        )
        assert digests == {"330101": digest_of(L_SHAPED), "330102": digest_of(IN_THE_CORNER)}
        assert await located(database, lat=30.15, lng=120.15) == "330102"
    finally:
        database.dispose()


async def test_a_case_read_never_loads_its_districts_boundary(api: Api) -> None:
    """The view names the district; its boundary (megabytes in a province) stays unread."""
    operator = await api.staff("op-xihu", Role.OPERATOR, "330106")
    reported = await api.client.post("/api/calls", json=XIHU, headers=await api.agreed_party("13800007777"))
    assert reported.status_code == 201, reported.text
    statements: list[str] = []

    def executed(connection: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engines = {api.context.database.writer, api.context.database.reader}
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", executed)
    try:
        read = await api.client.get(f"/api/cases/{reported.json()['case_id']}", headers=operator)
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", executed)

    assert read.status_code == 200, read.text
    assert read.json()["jurisdiction_code"] == "330106"
    assert any("jurisdictions" in sql for sql in statements)
    assert not [sql for sql in statements if "boundary" in sql]
