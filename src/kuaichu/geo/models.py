import hashlib
import json
from datetime import datetime
from typing import Any

from shapely.geometry import shape
from sqlalchemy import JSON, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, validates

from kuaichu.db import Base, UtcDateTime


class Jurisdiction(Base):
    """A traffic-police jurisdiction (辖区) with its boundary polygon (GeoJSON geometry)."""

    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    authority_name: Mapped[str] = mapped_column(String(128))
    # Loaded only where it is used (locating a point, placing a report without GPS): a case
    # view or a district list needs the name, and a province's boundaries are megabytes.
    boundary: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    # The boundary's bounding box (degrees), kept with it: a report's point is tried against the
    # boundaries whose box holds it, not against every boundary decoded for every report (a
    # province's detailed district boundaries are megabytes). None: no boundary to locate by.
    min_lng: Mapped[float | None]
    min_lat: Mapped[float | None]
    max_lng: Mapped[float | None]
    max_lat: Mapped[float | None]
    # The boundary's SHA-256 (digest_of), kept with it: a process decodes each boundary once and
    # keeps its shape by this digest (kuaichu.geo.service.locate), not once every report.
    boundary_digest: Mapped[str | None] = mapped_column(String(64))
    # The stills collection needs here, e.g. ["side_by_side", "plate:each"]; None: the setting.
    required_stills: Mapped[list[str] | None] = mapped_column(JSON)
    # Video quick handling's hours here, "HH:MM" Shanghai time; None: the setting.
    service_hours_start: Mapped[str | None] = mapped_column(String(5))
    service_hours_end: Mapped[str | None] = mapped_column(String(5))
    # Quick handling's most vehicles here (a local rule); None: Settings.quick_handling_max_vehicles.
    max_vehicles: Mapped[int | None]
    # 互碰自赔 adopted here (the province's insurance association's rule): where every party is at
    # fault and each loss is within 2,000, each insurer pays its own car. Off unless adopted.
    mutual_self_claim: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The supervisor's pause switch (bad weather, an incident): no new calls while paused.
    paused: Mapped[bool] = mapped_column(default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @validates("boundary")
    def _keep_box(self, _: str, boundary: dict[str, Any]) -> dict[str, Any]:
        self.min_lng, self.min_lat, self.max_lng, self.max_lat = box_of(boundary)
        self.boundary_digest = digest_of(boundary)
        return boundary

    def vehicle_limit(self, default: int) -> int:
        """The most vehicles an accident here may have for quick handling."""
        return self.max_vehicles or default


Box = tuple[float, float, float, float] | tuple[None, None, None, None]


def digest_of(boundary: dict[str, Any] | None) -> str | None:
    """The SHA-256 of the boundary's canonical JSON; None for none."""
    if not boundary:
        return None
    canonical = json.dumps(boundary, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def box_of(boundary: dict[str, Any]) -> Box:
    """(min_lng, min_lat, max_lng, max_lat) of a GeoJSON geometry; all None for none."""
    geometry = shape(boundary) if boundary else None
    if geometry is None or geometry.is_empty:
        return None, None, None, None
    return geometry.bounds
