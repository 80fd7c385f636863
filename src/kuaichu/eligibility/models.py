from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class CaseCircumstances(Base):
    """What the operator established in the call about the scene (现场情况), for eligibility."""

    __tablename__ = "case_circumstances"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    injury: Mapped[bool]
    vehicles_immovable: Mapped[bool]
    facts_disputed: Mapped[bool]
    drink_or_drugs_suspected: Mapped[bool]
    overload_or_speeding_suspected: Mapped[bool]
    plate_missing_or_forged: Mapped[bool]
    party_left_scene: Mapped[bool]
    deliberate: Mapped[bool]
    public_facility_damage_unknown_owner: Mapped[bool]
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
