"""Jurisdictions (辖区): loaded from GeoJSON; a report's GPS point picks one."""

import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from kuaichu.errors import InvalidInput
from kuaichu.geo.models import Jurisdiction, digest_of
from kuaichu.messages import Text


def read_feature_collection(path: Path) -> list[dict[str, Any]]:
    """Each feature: a Polygon/MultiPolygon with properties code, name, authority_name, and
    optionally required_stills (the jurisdiction's own list; see Settings.required_stills),
    max_vehicles (see Settings.quick_handling_max_vehicles), mutual_self_claim (互碰自赔
    adopted, true/false; see kuaichu.compensation) and
    service_hours_start/service_hours_end ("HH:MM"; see Settings.service_hours_start)."""
    collection = json.loads(path.read_text(encoding="utf-8"))
    features = collection.get("features", [])
    for feature in features:
        props = feature.get("properties", {})
        missing = {"code", "name", "authority_name"} - props.keys()
        if missing:
            raise ValueError(f"{path}: feature without {sorted(missing)}")
        if not shape(feature["geometry"]).is_valid:
            raise ValueError(f"{path}: invalid polygon for {props['code']}")
    return features


def import_jurisdictions(session: Session, features: list[dict[str, Any]]) -> list[Jurisdiction]:
    """Create or update jurisdictions by code (idempotent, so set-up can run it again)."""
    existing = {j.code: j for j in session.scalars(select(Jurisdiction))}
    result = []
    for feature in features:
        props = feature["properties"]
        jurisdiction = existing.get(props["code"]) or Jurisdiction(code=props["code"])
        jurisdiction.name = props["name"]
        jurisdiction.authority_name = props["authority_name"]
        # An unchanged boundary is not written again: a province's are megabytes, and the
        # same content in another key order would be a change to SQLite (migration 0035).
        if digest_of(feature["geometry"]) != jurisdiction.boundary_digest:
            jurisdiction.boundary = feature["geometry"]
        jurisdiction.required_stills = props.get("required_stills")
        jurisdiction.max_vehicles = props.get("max_vehicles")
        # 互碰自赔 (the province's insurance association's rule) from the file when it says.
        if "mutual_self_claim" in props:
            jurisdiction.mutual_self_claim = bool(props["mutual_self_claim"])
        # Service hours from the file when it sets them; else what the supervisor set stays.
        if "service_hours_start" in props and "service_hours_end" in props:
            jurisdiction.service_hours_start = props["service_hours_start"]
            jurisdiction.service_hours_end = props["service_hours_end"]
        session.add(jurisdiction)
        result.append(jurisdiction)
    session.flush()
    return result


# The jurisdictions whose boundary's box holds the point: usually one, a few near borders.
_BOXES_HOLDING = (
    select(Jurisdiction)
    .where(
        Jurisdiction.min_lng <= bindparam("lng"),
        Jurisdiction.max_lng >= bindparam("lng"),
        Jurisdiction.min_lat <= bindparam("lat"),
        Jurisdiction.max_lat >= bindparam("lat"),
    )
    .order_by(Jurisdiction.code)
)

# Each boundary's shape, prepared for point tests, by its digest: decoding a detailed boundary
# (megabytes of JSON in a province) for every report cost far more than the test. Keyed by the
# content, it needs no invalidation: a boundary imported anew has a new digest. Written by hand:
# functools.lru_cache cannot load on a miss from the caller's session. Bounded by clearing.
_SHAPES: dict[str, BaseGeometry] = {}
_MOST_SHAPES = 4096


def _shape_of(jurisdiction: Jurisdiction) -> BaseGeometry:
    digest = jurisdiction.boundary_digest
    geometry = _SHAPES.get(digest) if digest else None
    if geometry is None:
        geometry = shape(jurisdiction.boundary)  # loads the deferred boundary
        shapely.prepare(geometry)
        # GEOS builds a prepared polygon's point index lazily, at its first test, and that
        # build is not thread-safe (libgeos/geos#825): build it here, before another worker
        # thread can find the shape.
        geometry.covers(geometry.representative_point())
        if digest:
            if len(_SHAPES) >= _MOST_SHAPES:
                _SHAPES.clear()
            _SHAPES[digest] = geometry
    return geometry


def locate(session: Session, lat: float, lng: float) -> Jurisdiction:
    point = Point(lng, lat)  # GeoJSON order: longitude, latitude
    for jurisdiction in session.scalars(_BOXES_HOLDING, {"lat": lat, "lng": lng}):
        if _shape_of(jurisdiction).covers(point):
            return jurisdiction
    raise InvalidInput(Text("Geo.outside_service_area"), lat=lat, lng=lng)


def by_code(session: Session, code: str) -> Jurisdiction:
    """A district picked by hand (location denied)."""
    jurisdiction = session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()
    if jurisdiction is None:
        raise InvalidInput(Text("Geo.district_not_served"), field="jurisdiction_code")
    return jurisdiction


def inside_point(jurisdiction: Jurisdiction) -> tuple[float, float]:
    """A point surely inside the boundary, (lat, lng): where a report without GPS is placed."""
    point = shape(jurisdiction.boundary).representative_point()
    return point.y, point.x


def listed(session: Session) -> list[Jurisdiction]:
    return list(session.scalars(select(Jurisdiction).order_by(Jurisdiction.code)))
