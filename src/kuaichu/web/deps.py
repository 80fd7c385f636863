"""FastAPI dependencies: who is calling, and may this role call here at all."""

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Annotated

from fastapi import Depends, Request

from kuaichu.auth.service import authenticate_api_key
from kuaichu.auth.sessions import check_staff_session
from kuaichu.cases.access import read_only_refusal
from kuaichu.db import defer_to_first_unit
from kuaichu.errors import Forbidden, NotAuthenticated, NotFound
from kuaichu.messages import Text
from kuaichu.principal import ACCOUNT_ROLES, Principal, Role
from kuaichu.privacy import phone_key
from kuaichu.web.context import AppContext, app_context

Context = Annotated[AppContext, Depends(app_context)]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def authenticate(headers: Mapping[str, str], context: AppContext) -> Principal:
    """Who the credentials in these headers stand for: an insurer's API key, or a bearer
    token; a staff token only while its session stands (not deactivated, no role or
    password change since). A read checks the session inside its own first unit of work
    (kuaichu.db.Precondition); anything else checks it here, before going on."""
    api_key = headers.get("x-api-key")
    if api_key:
        return await context.database.read_small(lambda s: authenticate_api_key(s, api_key))
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated(Text("Auth.login_first"))
    principal = context.tokens.principal(token, context.clock.now())
    if principal.role in ACCOUNT_ROLES:
        session_stands = partial(check_staff_session, principal=principal)
        if not defer_to_first_unit(session_stands):
            await context.database.read_small(session_stands)
    if principal.role is Role.PARTY and principal.phone:
        secret = context.settings.effective_phone_key_secret
        principal = replace(principal, phone_key=phone_key(principal.phone, secret))
    return principal


# Where CredentialsBeforeBody leaves the principal it authenticated (in the request's scope
# state), so the route does not decode the token and check the session a second time.
AUTHENTICATED = "kuaichu.principal"


async def current_principal(request: Request, context: Context) -> Principal:
    address = request.client.host if request.client else None
    principal = request.scope.get("state", {}).get(AUTHENTICATED) or await authenticate(
        request.headers, context
    )
    return replace(principal, address=address)


def require(*roles: Role) -> Callable[..., object]:
    """A route open to these roles only; others get 404 so the route's scope doesn't leak."""

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.role not in roles:
            if principal.role is Role.INSURER_AGENT and request.method in WRITE_METHODS:
                # An invited insurer's agent sees and speaks in a call but changes nothing.
                raise Forbidden(read_only_refusal(principal))
            raise NotFound(Text("Problem.not_found"))
        return principal

    return dependency


CurrentUser = Annotated[Principal, Depends(current_principal)]
Party = Annotated[Principal, Depends(require(Role.PARTY))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Officer = Annotated[Principal, Depends(require(Role.OFFICER))]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]
Insurer = Annotated[Principal, Depends(require(Role.INSURER))]
InsurerAgent = Annotated[Principal, Depends(require(Role.INSURER_AGENT))]
