from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, ForeignKey, String, UniqueConstraint, exists
from sqlalchemy.orm import Mapped, mapped_column

from kuaichu.cases.models import Case
from kuaichu.claims.schemas import ClaimStep
from kuaichu.db import Base, UtcDateTime
from kuaichu.principal import Principal


class Claim(Base):
    """A claim a party pushed to a compulsory-insurance (交强险) insurer.

    `insurer_code` is where it went: the claimant's own insurer, or the at-fault party's
    insurer when the claimant bears no responsibility (see claims.service.route_claim).
    """

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("case_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    insurer_code: Mapped[str] = mapped_column(String(16), index=True)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(24), default=ClaimStep.PUSHED)


class AssessedLoss(Base):
    """定损: a vehicle's property loss as an insurer assessed it, in fen (whole, never float).
    One per vehicle of a case: the split of who pays what needs every vehicle's."""

    __tablename__ = "assessed_losses"
    __table_args__ = (UniqueConstraint("case_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("case_parties.id"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ClaimProgress(Base):
    """One step the insurer reported: surveyor assigned, contacted, assessed, paid."""

    __tablename__ = "claim_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(500), default="")


def insurer_scope(insurer: Principal) -> ColumnElement[bool]:
    """The cases an insurer sees: those it holds a claim on."""
    return exists().where(Claim.case_id == Case.id, Claim.insurer_code == insurer.insurer_code)
