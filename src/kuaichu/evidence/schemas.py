from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class EvidenceKind(StrEnum):
    SIDE_BY_SIDE = "side_by_side"  # 并排同框
    VEHICLE_OVERVIEW = "vehicle_overview"
    COLLISION_POINT = "collision_point"
    PLATE = "plate"
    RECORDING = "recording"
    OTHER = "other"


class EvidenceOut(BaseModel):
    id: int
    kind: str
    sha256: str
    size: int
    media_type: str
    uploaded_at: datetime
    uploaded_by: str
    lat: float | None
    lng: float | None
