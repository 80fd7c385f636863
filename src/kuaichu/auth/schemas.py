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
