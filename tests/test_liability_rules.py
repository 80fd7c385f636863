"""定责 rules: each rule with a case it fits and one it does not; the officer accepts or overrides."""

import pytest
from conftest import Api
from flows import evacuated_case, rear_end_decision
from sqlalchemy import select

from kuaichu.cases.catalogue import AccidentType
from kuaichu.liability.grades import Responsibility
from kuaichu.liability.models import Determination
from kuaichu.liability.rules import RULES, Act, Rule, propose

FULL, MAIN, MINOR, NONE = Responsibility.FULL, Responsibility.MAIN, Responsibility.MINOR, Responsibility.NONE
TWO_RULES = [rule for rule in RULES if rule.act is not None]


@pytest.mark.parametrize("rule", TWO_RULES, ids=[r.code for r in TWO_RULES])
def test_the_party_who_did_the_act_bears_full_responsibility(rule: Rule) -> None:
    assert rule.act is not None
    proposal = propose(rule.accident_type, {2: {rule.act}}, [1, 2])
    assert proposal is not None
    assert proposal.shares == {1: NONE, 2: FULL}
    assert proposal.rule.code == rule.code
    assert "第60条" in proposal.basis_text
    assert f"第{rule.list_item}项" in proposal.basis_text


@pytest.mark.parametrize("rule", TWO_RULES, ids=[r.code for r in TWO_RULES])
def test_no_proposal_when_both_parties_committed_listed_acts(rule: Rule) -> None:
    assert rule.act is not None
    other_act = Act.SIGNAL if rule.act is not Act.SIGNAL else Act.WRONG_WAY
    acts = {1: {other_act}, 2: {rule.act}}
    assert propose(rule.accident_type, acts, [1, 2]) is None


@pytest.mark.parametrize("rule", TWO_RULES, ids=[r.code for r in TWO_RULES])
def test_no_proposal_when_the_act_the_type_names_was_not_recorded(rule: Rule) -> None:
    assert propose(rule.accident_type, {}, [1, 2]) is None


def test_single_vehicle_fits_one_party_only() -> None:
    proposal = propose(AccidentType.SINGLE_VEHICLE, {}, [1])
    assert proposal is not None and proposal.shares == {1: FULL}
    assert "第10项" in proposal.basis_text
    assert propose(AccidentType.SINGLE_VEHICLE, {}, [1, 2]) is None


def test_illegal_parking_is_main_responsibility_where_the_local_rule_says_so() -> None:
    proposal = propose(AccidentType.ILLEGAL_PARKING, {1: {Act.ILLEGAL_PARKING}}, [1, 2], parking=MAIN)
    assert proposal is not None
    assert proposal.shares == {1: MAIN, 2: MINOR}
    assert "第60条第2项" in proposal.basis_text


def test_an_accident_type_without_a_rule_gets_no_proposal() -> None:
    assert propose(AccidentType.OTHER, {1: {Act.REAR_END}}, [1, 2]) is None
    assert propose(None, {1: {Act.REAR_END}}, [1, 2]) is None


async def test_the_officer_accepts_the_proposal_and_it_is_recorded(api: Api) -> None:
    case = await evacuated_case(api)
    facts = {
        "parties": [
            {"position": 1, "acts": [], "impact_point": "车尾"},
            {"position": 2, "acts": ["rear_end"], "impact_point": "车头"},
        ]
    }
    response = await api.client.put(f"/api/cases/{case.id}/liability-facts", json=facts, headers=case.officer)
    assert response.status_code == 204, response.text
    proposal = (await api.client.get(f"/api/cases/{case.id}/liability-proposal", headers=case.officer)).json()
    assert proposal["rule"] == "rear_end"
    assert [s["responsibility"] for s in proposal["shares"]] == ["none", "full"]
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert response.status_code == 200, response.text
    stored = await api.context.database.read(lambda s: s.scalars(select(Determination)).one())
    assert stored.proposal_accepted is True
    assert stored.proposal is not None and stored.proposal["rule"] == "rear_end"
    assert stored.override_reason is None


async def test_overriding_the_proposal_needs_a_written_reason(api: Api) -> None:
    case = await evacuated_case(api)
    facts = {"parties": [{"position": 1, "acts": []}, {"position": 2, "acts": ["rear_end"]}]}
    await api.client.put(f"/api/cases/{case.id}/liability-facts", json=facts, headers=case.officer)
    equal = {
        "shares": [
            {"party_id": case.party_ids[0], "responsibility": "equal"},
            {"party_id": case.party_ids[1], "responsibility": "equal"},
        ],
        "reasoning": "前车急刹",
    }
    refused = await api.client.post(f"/api/cases/{case.id}/determination", json=equal, headers=case.officer)
    assert refused.status_code == 422
    assert "不采纳的理由" in refused.json()["detail"]
    overridden = equal | {"override_reason": "行车记录仪显示前车无故急刹，双方均有过错"}
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=overridden, headers=case.officer
    )
    assert response.status_code == 200, response.text
    stored = await api.context.database.read(lambda s: s.scalars(select(Determination)).one())
    assert stored.proposal_accepted is False
    assert stored.override_reason == "行车记录仪显示前车无故急刹，双方均有过错"


async def test_without_recorded_acts_there_is_no_proposal_and_the_officer_decides(api: Api) -> None:
    case = await evacuated_case(api, skip=frozenset({"acts"}))
    proposal = (await api.client.get(f"/api/cases/{case.id}/liability-proposal", headers=case.officer)).json()
    assert proposal["rule"] is None and "民警" in proposal["message"]
    response = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end_decision(case), headers=case.officer
    )
    assert response.status_code == 200
    stored = await api.context.database.read(lambda s: s.scalars(select(Determination)).one())
    assert stored.proposal is None and stored.proposal_accepted is None


async def test_acts_for_a_party_that_does_not_exist_are_refused(api: Api) -> None:
    case = await evacuated_case(api)
    facts = {"parties": [{"position": 3, "acts": ["rear_end"]}]}
    response = await api.client.put(f"/api/cases/{case.id}/liability-facts", json=facts, headers=case.officer)
    assert response.status_code == 422
