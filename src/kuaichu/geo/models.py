from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base


class Jurisdiction(Base):
    """A traffic-police jurisdiction (辖区) with its boundary polygon (GeoJSON geometry)."""

    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    authority_name: Mapped[str] = mapped_column(String(128))
    boundary: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The stills collection needs here, e.g. ["side_by_side", "plate:each"]; None: the setting.
    required_stills: Mapped[list[str] | None] = mapped_column(JSON)
