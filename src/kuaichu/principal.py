"""Who is acting: the authenticated principal every service call receives."""

from dataclasses import dataclass

from kuaichu.messages import Labelled


class Role(Labelled):
    PARTY = "party"
    OPERATOR = "operator"
    OFFICER = "officer"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    INSURER = "insurer"
    # An insurer's staff member (保险公司坐席), invited by an operator into a live call.
    INSURER_AGENT = "insurer_agent"
    SYSTEM = "system"


STAFF_ROLES = frozenset({Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN})
# Everyone who logs in with a password to an account (users): staff and insurers' agents, whose
# sessions end with the account's session version.
ACCOUNT_ROLES = STAFF_ROLES | {Role.INSURER_AGENT}


@dataclass(frozen=True)
class Principal:
    role: Role
    # Staff user id or insurer id; None for parties, who are known by their phone.
    id: int | None = None
    phone: str | None = None
    jurisdiction_id: int | None = None
    insurer_code: str | None = None
    label: str = ""
    # Where the request came from, for the audit log.
    address: str | None = None
    # A staff login's session version (users.session_version when it was issued).
    session_version: int | None = None
    # A party's phone under the server's keyed hash (privacy.phone_key): what still matches
    # them to a case after retention masked the phone there.
    phone_key: str | None = None


SYSTEM = Principal(role=Role.SYSTEM, label="系统")
