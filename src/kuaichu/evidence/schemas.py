from datetime import datetime

from pydantic import BaseModel

from kuaichu.messages import DEFAULT_LOCALE, Labelled, reader_locale, text


class EvidenceKind(Labelled):
    SIDE_BY_SIDE = "side_by_side"  # 并排同框
    VEHICLE_OVERVIEW = "vehicle_overview"
    COLLISION_POINT = "collision_point"
    PLATE = "plate"
    # The front of a party's driving licence (驾驶证), whose 证号 OCR reads (kuaichu.recognition).
    DRIVING_LICENCE = "driving_licence"
    RECORDING = "recording"
    # A party's signature drawn on their phone (kuaichu.signatures), never an upload.
    SIGNATURE = "signature"
    OTHER = "other"


# What retention writes in place of deleted free text: a marker kept in the record's language,
# compared against when purging again.
PURGED_LABEL = text("Retention.purged", DEFAULT_LOCALE)


def kind_label(kind: str, party_position: int | None) -> str:
    """A still's caption in the reader's language: its kind, and whose vehicle it shows when it
    is one party's."""
    label = EvidenceKind(kind).label()
    if not party_position:
        return label
    locale = reader_locale()
    party = text("Common.party_n", locale, position=party_position)
    return text("Evidence.party_still", locale, party=party, kind=label)


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
