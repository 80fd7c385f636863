"""FastAPI dependencies: who is calling, and may this role call here at all."""

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request

from kuaichu.auth.principal import Principal, Role
from kuaichu.auth.service import authenticate_api_key
from kuaichu.context import AppContext, app_context
from kuaichu.errors import NotAuthenticated, NotFound

Context = Annotated[AppContext, Depends(app_context)]


async def current_principal(request: Request, context: Context) -> Principal:
    address = request.client.host if request.client else None
    api_key = request.headers.get("x-api-key")
    if api_key:
        principal = await context.database.read(lambda s: authenticate_api_key(s, api_key))
    else:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("请先登录")
        principal = context.tokens.principal(token, context.clock.now())
    return replace(principal, address=address)


def require(*roles: Role) -> Callable[..., object]:
    """A route open to these roles only; others get 404 so the route's scope doesn't leak."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise NotFound("未找到")
        return principal

    return dependency


CurrentUser = Annotated[Principal, Depends(current_principal)]
Party = Annotated[Principal, Depends(require(Role.PARTY))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]
Insurer = Annotated[Principal, Depends(require(Role.INSURER))]
