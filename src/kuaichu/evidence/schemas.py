from datetime import datetime

from pydantic import BaseModel

from kuaichu.messages import Labelled


class EvidenceKind(Labelled):
    SIDE_BY_SIDE = "side_by_side"  # 并排同框
    VEHICLE_OVERVIEW = "vehicle_overview"
    COLLISION_POINT = "collision_point"
    PLATE = "plate"
    RECORDING = "recording"
    OTHER = "other"


# What a page shows for evidence retention has deleted.
PURGED_LABEL = "已按规定期限删除"


def kind_label(kind: str, party_position: int | None) -> str:
    """A still's caption: its kind, and whose vehicle it shows when it is one party's."""
    label = EvidenceKind(kind).label()
    return f"当事人{party_position} {label}" if party_position else label


class EvidenceOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    party_position: int | None
    sha256: str
    size: int
    media_type: str
    uploaded_at: datetime
    uploaded_by: str
    lat: float | None
    lng: float | None
    # Retention deleted the file after its period (已按规定期限删除); the hash stays.
    purged: bool = False
    status_label: str | None = None
