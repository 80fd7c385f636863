from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kuaichu.audit.reads import audited_read
from kuaichu.cases.lifecycle import CaseState
from kuaichu.cases.schemas import RowId
from kuaichu.principal import Principal
from kuaichu.signals import service
from kuaichu.signals.rules import SignalName
from kuaichu.signals.schemas import FlaggedCaseOut, SignalOut, SignalRuleOut
from kuaichu.web.deps import Context, require

router = APIRouter(tags=["signals"])
Watcher = Annotated[Principal, Depends(require(*service.WATCHERS))]


@router.get("/api/signals/rules", response_model=list[SignalRuleOut])
async def rules(viewer: Watcher) -> list[SignalRuleOut]:
    """The signals there are, each with its name in the reader's language (a page's filter)."""
    return [SignalRuleOut(name=name.value, label=name.label()) for name in SignalName]


@router.get("/api/signals/cases", response_model=list[FlaggedCaseOut])
async def flagged_cases(
    viewer: Watcher,
    context: Context,
    signal: Annotated[SignalName | None, Query(description="Only cases with this signal")] = None,
    state: Annotated[CaseState | None, Query(description="Only cases in this state")] = None,
) -> list[FlaggedCaseOut]:
    """The cases in the viewer's scope with signals, newest first, each with its reasons."""
    now = context.clock.now()
    return await audited_read(
        context.database, lambda s: service.flagged_cases(s, viewer, now, signal, state)
    )


@router.get("/api/cases/{case_id}/signals", response_model=list[SignalOut])
async def case_signals(case_id: RowId, viewer: Watcher, context: Context) -> list[SignalOut]:
    """A case's signals with their reasons, as computed when collection completed and when the
    parties left the scene. A signal never decides."""
    now = context.clock.now()
    return await audited_read(context.database, lambda s: service.case_signals(s, viewer, case_id, now))
