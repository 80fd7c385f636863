"""What the officer decides on and the reviewer checks (the case file), the reviewer's period,
and the supervisor's replay in words: issue 8's back office, through the API."""

import re
from pathlib import Path

from casework import PLATE_COVERED, REASONING, collected_case, determined
from conftest import Api

import kuaichu
from kuaichu.audit.actions import AuditAction
from kuaichu.principal import Role


async def test_the_officer_reads_checks_eligibility_acts_and_impact_points(api: Api) -> None:
    case = await collected_case(api)
    response = await api.client.get(f"/api/cases/{case.id}/case-file", headers=case.officer)
    assert response.status_code == 200, response.text
    file = response.json()
    assert file["number"] == case.number and file["determination"] is None
    assert file["eligibility"]["eligible"] is True
    zhang, li = file["parties"]
    assert (zhang["designation"], zhang["name"], zhang["impact_point"]) == ("甲", "张伟", "车尾")
    assert zhang["acts_recorded"] is True and zhang["acts"] == []
    assert (li["designation"], li["impact_point"]) == ("乙", "车头")
    assert li["acts"] == [{"code": "rear_end", "label": "同车道追尾前车"}]
    assert [(c["kind_label"], c["outcome"]) for c in zhang["checks"]] == [
        ("驾驶证", "passed"),
        ("机动车", "passed"),
        ("交强险", "passed"),
    ]
    [insurance] = [c for c in li["checks"] if c["kind"] == "insurance"]
    assert insurance["failures"][0]["code"] == "policy_number_mismatch"

    # The override the operator made shows with its reason (the gate's own read).
    collection = (await api.client.get(f"/api/cases/{case.id}/collection", headers=case.officer)).json()
    [override] = collection["overrides"]
    assert override["reason"] == PLATE_COVERED
    assert [item["key"] for item in override["items"]] == ["still:plate:2"]

    # Parties have their progress view, not the back office's file.
    assert (await api.client.get(f"/api/cases/{case.id}/case-file", headers=case.li)).status_code == 404


async def test_the_reviewer_sees_the_reasoning_the_rule_and_the_days_left(api: Api) -> None:
    case = await determined(api)
    applied = await api.client.post(
        f"/api/cases/{case.id}/review", json={"reasons": "我方并未追尾，是前车倒车"}, headers=case.li
    )
    assert applied.status_code == 200, applied.text
    reviewer = await api.staff("reviewer", Role.REVIEWER)

    file = (await api.client.get(f"/api/cases/{case.id}/case-file", headers=reviewer)).json()
    determination = file["determination"]
    assert determination["reasoning"] == REASONING
    assert determination["rule_label"] == "追尾的后车负全部责任"
    assert determination["proposal_accepted_label"] == "采纳规则建议"
    assert determination["officer"] == "officer-xihu姓名"
    assert [(s["designation"], s["responsibility_label"]) for s in determination["shares"]] == [
        ("甲", "无责任"),
        ("乙", "全部责任"),
    ]
    assert determination["review_last_day"] == "2026-11-30"  # 3 days, the 28th is a Saturday

    review = (await api.client.get(f"/api/cases/{case.id}/review", headers=reviewer)).json()
    # art. 73: thirty days from the application (2026-11-25) to decide.
    assert (review["decide_by"], review["days_left"]) == ("2026-12-25", 30)


async def test_the_replay_tells_the_override_and_the_decisions_in_words(api: Api) -> None:
    case = await determined(api)
    supervisor = await api.staff("supervisor", Role.SUPERVISOR)
    replay = (await api.client.get(f"/api/supervision/cases/{case.id}/replay", headers=supervisor)).json()
    [override] = [e for e in replay["timeline"] if e["kind"] == "collection_override"]
    assert override["detail"]["reason"] == PLATE_COVERED
    [determination] = replay["determinations"]
    assert determination["status_label"] == "有效"
    assert [(s["party"], s["responsibility_label"]) for s in determination["shares"]] == [
        ("甲 张伟", "无责任"),
        ("乙 李娜", "全部责任"),
    ]
    assert determination["reasoning"] == REASONING
    assert all(item["kind_label"] for item in replay["evidence"])


def test_every_audit_entry_names_its_action_by_an_enum_with_a_label() -> None:
    """The replay shows each audit entry by its label: an action is an AuditAction (or the
    case's Action or EventKind), never a bare string that would show as its key."""
    source = Path(kuaichu.__file__).parent
    # The third argument of each audit.record( call, whatever its actor argument holds.
    action = re.compile(r"audit\.record\(\s*\w+,\s*(?:[^(),]|\([^()]*\))+,\s*([^,]+),")
    passed = {found for path in source.rglob("*.py") for found in action.findall(path.read_text())}
    assert len(passed) > 20
    assert sorted(a for a in passed if not a.startswith("AuditAction.")) == ["kind"]  # lifecycle's event
    assert all(action.label() != action.value for action in AuditAction)
