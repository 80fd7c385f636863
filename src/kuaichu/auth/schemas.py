from pydantic import BaseModel, Field

from kuaichu.cases.schemas import Phone


class SmsCodeRequest(BaseModel):
    phone: Phone


class PartyLogin(BaseModel):
    phone: Phone
    code: str = Field(pattern=r"^\d{6}$")


class StaffLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    name: str
    # Staff: the access token lasts minutes; trade the refresh token (single use) for the next.
    expires_in: int | None = None
    refresh_token: str | None = None


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=128)


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(default=None, max_length=128)


class SocketTicketOut(BaseModel):
    """Open the page's WebSocket as `/ws?ticket=...` within `expires_in` seconds, once."""

    ticket: str
    expires_in: int


class IceServersOut(BaseModel):
    ice_servers: list[dict[str, str | list[str]]]
