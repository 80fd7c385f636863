from datetime import datetime

from pydantic import BaseModel


class DeadLetter(BaseModel):
    id: int
    channel: str
    target: str
    case_id: int | None
    attempts: int
    last_error: str
    created_at: datetime
