"""Every transition the lifecycle does not allow is refused and changes nothing."""

import pytest
from conftest import SHANGHAI_MORNING
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuaichu.cases import lifecycle
from kuaichu.cases.lifecycle import EDITABLE, REFUSALS, TRANSITIONS, Action, CaseState, Edit
from kuaichu.cases.models import Case, TimelineEvent
from kuaichu.db import Database
from kuaichu.errors import Forbidden, IllegalTransition
from kuaichu.geo.models import Jurisdiction
from kuaichu.messages import text
from kuaichu.principal import Principal, Role

ILLEGAL = [
    (action, state)
    for action, transition in TRANSITIONS.items()
    for state in CaseState
    if state not in transition.sources
]


def _case_in(session: Session, state: CaseState) -> Case:
    jurisdiction = Jurisdiction(code="330106", name="西湖区", authority_name="西湖大队", boundary={})
    session.add(jurisdiction)
    session.flush()
    case = Case(
        number="3301062026112500001",
        jurisdiction_id=jurisdiction.id,
        state=state,
        reporter_phone="13800000001",
        reported_at=SHANGHAI_MORNING,
        report_lat=30.26,
        report_lng=120.10,
        updated_at=SHANGHAI_MORNING,
    )
    session.add(case)
    session.flush()
    return case


def _actor_for(action: Action) -> Principal:
    role = next(iter(TRANSITIONS[action].roles))
    return Principal(role=role, id=1, phone="13800000001", label="测试")


@pytest.mark.parametrize(("action", "state"), ILLEGAL, ids=[f"{a}-from-{s}" for a, s in ILLEGAL])
def test_an_illegal_transition_is_refused_and_changes_nothing(
    database: Database, action: Action, state: CaseState
) -> None:
    case_id = database.write_sync(lambda s: _case_in(s, state).id)

    def attempt(session: Session) -> None:
        case = session.get(Case, case_id)
        assert case is not None
        lifecycle.apply(session, case, action, _actor_for(action), SHANGHAI_MORNING)

    with pytest.raises(IllegalTransition):
        database.write_sync(attempt)
    assert database.write_sync(lambda s: s.get(Case, case_id).state) == state
    assert database.write_sync(lambda s: s.scalar(select(func.count(TimelineEvent.id)))) == 0


@pytest.mark.parametrize("action", list(Action))
def test_a_role_the_transition_is_not_for_is_refused(database: Database, action: Action) -> None:
    transition = TRANSITIONS[action]
    source = next(iter(transition.sources))
    outsider = next(r for r in (Role.PARTY, Role.OPERATOR, Role.SUPERVISOR) if r not in transition.roles)
    case_id = database.write_sync(lambda s: _case_in(s, source).id)

    def attempt(session: Session) -> None:
        case = session.get(Case, case_id)
        assert case is not None
        lifecycle.apply(session, case, action, Principal(role=outsider, id=9), SHANGHAI_MORNING)

    with pytest.raises(Forbidden):
        database.write_sync(attempt)
    assert database.write_sync(lambda s: s.get(Case, case_id).state) == source


def test_every_state_but_the_final_ones_can_be_left() -> None:
    final = {CaseState.CLOSED, CaseState.ABANDONED, CaseState.TRANSFERRED, CaseState.ORDINARY_PROCEDURE}
    sources = set().union(*(t.sources for t in TRANSITIONS.values()))
    assert sources == set(CaseState) - final


def test_a_case_is_edited_only_in_the_states_the_lifecycle_lists_for_the_edit() -> None:
    for edit, by_role in EDITABLE.items():
        for role, states in by_role.items():
            for state in CaseState:
                case = Case(state=state)
                if state in states:
                    lifecycle.ensure_editable(case, edit, Principal(role=role, id=1))
                    continue
                with pytest.raises(IllegalTransition) as refused:
                    lifecycle.ensure_editable(case, edit, Principal(role=role, id=1))
                assert refused.value.detail == text(REFUSALS[edit], state=state.label()), (edit, role, state)


def test_a_role_the_edit_is_not_for_may_edit_in_no_state() -> None:
    case = Case(state=CaseState.DETERMINED)
    with pytest.raises(IllegalTransition):
        lifecycle.ensure_editable(case, Edit.CLAIM, Principal(role=Role.OPERATOR, id=1))
