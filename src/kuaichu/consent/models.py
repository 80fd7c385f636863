from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class PrivacyConsent(Base):
    """A party's agreement to one version of the privacy notice (个人信息保护法), kept by phone:
    the first agreement to a version stands."""

    __tablename__ = "privacy_consents"
    __table_args__ = (UniqueConstraint("phone", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    version: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[datetime] = mapped_column(UtcDateTime)
    address: Mapped[str | None] = mapped_column(String(64))
