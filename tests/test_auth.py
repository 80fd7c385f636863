"""Logins: SMS codes for parties (expiry, tries, rate limits), passwords for staff."""

import asyncio
import re
from datetime import timedelta

import jwt
from conftest import Api
from sqlalchemy import select

from kuaichu.auth.models import SmsCode
from kuaichu.clock import FrozenClock
from kuaichu.principal import Role

PHONE = "13800000001"


async def _request_code(api: Api, phone: str = PHONE) -> str:
    response = await api.client.post("/api/auth/sms-code", json={"phone": phone})
    assert response.status_code == 202, response.text
    return re.findall(r"验证码为(\d{6})", (await api.sms_to(phone))[-1])[0]


async def _login(api: Api, code: str, phone: str = PHONE) -> int:
    response = await api.client.post("/api/auth/party", json={"phone": phone, "code": code})
    return response.status_code


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_a_code_works_once(api: Api) -> None:
    code = await _request_code(api)
    assert await _login(api, code) == 200
    assert await _login(api, code) == 401


async def test_a_code_expires_after_five_minutes(api: Api, clock: FrozenClock) -> None:
    code = await _request_code(api)
    clock.advance(timedelta(minutes=5))
    assert await _login(api, code) == 401


async def test_five_wrong_tries_burn_the_code(api: Api) -> None:
    code = await _request_code(api)
    for _ in range(5):
        assert await _login(api, _wrong(code)) == 401
    assert await _login(api, code) == 401


async def test_two_hundred_simultaneous_guesses_are_counted_against_the_limit(api: Api) -> None:
    code = await _request_code(api)
    guesses = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 200)] + [code]
    answers = await asyncio.gather(
        *(api.client.post("/api/auth/party", json={"phone": PHONE, "code": guess}) for guess in guesses)
    )
    details = [answer.json()["detail"] for answer in answers]
    compared = [d for d in details if d != "验证码错误次数过多，请重新获取"]
    assert len(compared) <= api.context.settings.sms_code_max_attempts
    attempts = await api.context.database.read(lambda s: s.scalars(select(SmsCode.attempts)).one())
    assert attempts == api.context.settings.sms_code_max_attempts


async def test_a_token_with_claims_we_never_write_is_a_401(api: Api) -> None:
    forged = jwt.encode(
        {"sub": "x", "role": "emperor", "exp": "soon"}, api.context.settings.signing_secret, algorithm="HS256"
    )
    response = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    staff_without_id = jwt.encode(
        {"sub": "x", "role": "operator", "exp": 4102444800},
        api.context.settings.signing_secret,
        algorithm="HS256",
    )
    response = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {staff_without_id}"})
    assert response.status_code == 401


async def test_codes_are_rate_limited_per_phone(api: Api) -> None:
    for _ in range(5):
        await _request_code(api)
    response = await api.client.post("/api/auth/sms-code", json={"phone": PHONE})
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"


async def test_codes_are_rate_limited_per_address(api: Api) -> None:
    for i in range(20):
        await _request_code(api, f"1390000{i:04d}")
    response = await api.client.post("/api/auth/sms-code", json={"phone": "13700000000"})
    assert response.status_code == 429


async def test_a_malformed_phone_gets_a_clear_error(api: Api) -> None:
    response = await api.client.post("/api/auth/sms-code", json={"phone": "12345"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "phone"


async def test_staff_log_in_with_their_password_only(api: Api) -> None:
    await api.staff("op-xihu", Role.OPERATOR, "330106")
    wrong = await api.client.post("/api/auth/staff", json={"username": "op-xihu", "password": "nope"})
    assert wrong.status_code == 401
    unknown = await api.client.post("/api/auth/staff", json={"username": "ghost", "password": "x"})
    assert unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
