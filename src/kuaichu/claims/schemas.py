from datetime import datetime

from pydantic import BaseModel


class ClaimOut(BaseModel):
    id: int
    case_id: int
    party_id: int
    insurer_code: str
    pushed_at: datetime
    status: str
