from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query

from kuaichu.cases.api import CollectionWriter
from kuaichu.cases.schemas import RowId
from kuaichu.errors import NotFound, Unavailable
from kuaichu.messages import Text
from kuaichu.principal import Principal, Role
from kuaichu.registries import service
from kuaichu.registries.adapters import RegistryUnavailable
from kuaichu.registries.schemas import CheckOut, LookupOut
from kuaichu.web.deps import Context, Operator, require

router = APIRouter(prefix="/api/cases", tags=["registries"])
# Registry answers about every party: for the staff handling the case, not for the parties.
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR))]


@router.post("/{case_id}/checks", response_model=list[CheckOut])
async def run_checks(case_id: RowId, operator: CollectionWriter, context: Context) -> list[CheckOut]:
    """The console calls this as soon as the parties are entered (自动核验)."""
    now = context.clock.now()
    request = await context.database.read(lambda s: service.what_to_check(s, operator, case_id, now))
    # No transaction is open while the registries answer.
    results = await anyio.to_thread.run_sync(service.look_up, context.registries, request)
    return await context.database.write(
        lambda s: service.store(s, operator, request, results, context.clock.now())
    )


@router.get("/{case_id}/checks", response_model=list[CheckOut])
async def read_checks(case_id: RowId, viewer: Staff, context: Context) -> list[CheckOut]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_checks(s, viewer, case_id, now))


@router.get("/{case_id}/registry-lookup", response_model=LookupOut)
async def look_up_person(
    case_id: RowId,
    operator: Operator,
    context: Context,
    plate_number: Annotated[str | None, Query(max_length=10)] = None,
    plate_type: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    licence_number: Annotated[str | None, Query(max_length=18)] = None,
) -> LookupOut:
    """查询预填: a plate (with its type) or a licence number fills the party's name, vehicle type,
    insurer and policy. A read of personal data: audited, whatever the registries answer."""
    now = context.clock.now()
    request = await context.database.read(
        lambda s: service.what_to_look_up(
            s, operator, case_id, _clean(plate_number), plate_type, _clean(licence_number), now
        )
    )

    async def audit(outcome: str) -> None:
        await context.database.write(lambda s: service.record_lookup(s, operator, request, outcome, now))

    try:
        found = await anyio.to_thread.run_sync(service.look_up_person, context.registries, request)
    except RegistryUnavailable as error:
        await audit("unavailable")
        raise Unavailable(Text("Registry.lookup_unavailable")) from error
    except NotFound:
        await audit("not_found")
        raise
    await audit("found")
    return found


def _clean(value: str | None) -> str | None:
    return value.strip().upper() or None if value else None
