from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.db import Base, UtcDateTime


class DeterminationDocument(Base):
    """The signed 事故认定书 of one determination; whether it stands follows the determination."""

    __tablename__ = "determination_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    determination_id: Mapped[int] = mapped_column(ForeignKey("determinations.id"), unique=True)
    # The document this one replaces after its determination was revoked on review.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("determination_documents.id"))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
