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


class DocumentOrder(Base):
    """A determination's document to be made: written in the determination's transaction, so
    it survives anything after the commit; the document job renders, signs and stores it, and
    marks it issued in the transaction that stores the document. Until then the case shows
    the document as being made."""

    __tablename__ = "document_orders"

    determination_id: Mapped[int] = mapped_column(ForeignKey("determinations.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # Chosen with the determination, under the case's lock: the case's documents count up.
    number: Mapped[str] = mapped_column(String(40), unique=True)
    ordered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))
