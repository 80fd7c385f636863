"""The insurer's seat in a real call (issue 12): Chromium with fake cameras, Janus started for
real (tests/janus_stack.py). The operator invites the insurer from the console; the agent's page
hears of it at once, joins, and receives the party's and the operator's video; the agent's page
has nothing to edit and the API refuses the agent's writes; the replay shows the agent's time
in the call.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import STAFF_PASSWORD
from janus_stack import ALL_FEEDS_DECODED, MediaStack, add_staff, media_stack, requires_janus
from live import (
    operator_context_page,
    party_context_page,
    party_logs_in,
    staff_logs_in,
    until_true,
    wait_until,
)
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer
from kuaichu.auth.service import create_insurer_agent
from kuaichu.cases.models import Case
from kuaichu.clock import SystemClock
from kuaichu.db import Database
from kuaichu.principal import Role

pytestmark = requires_janus

PARTY_PHONE = "13800005031"
# Three browsers with fake cameras, Janus and the app share two cores with other work here: a
# request or a first frame may take well beyond the usual 15 s.
SLOW_MS = 90_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaStack]:
    with media_stack(tmp_path_factory.mktemp("seat")) as started:
        yield started


def register_agent(database: Database) -> None:
    def work(session: Session) -> None:
        session.add(Insurer(code="CPIC", name="中国太平洋财产保险"))
        session.flush()
        create_insurer_agent(
            session,
            username="cpic-wang",
            password=STAFF_PASSWORD,
            display_name="王理赔",
            insurer_code="CPIC",
            now=SystemClock().now(),
        )

    database.write_sync(work)


def party_reports(page: Page, database: Database, phone: str) -> None:
    party_logs_in(page, database, phone)
    page.click("#report")
    page.click("#consent-agree")


def sees_everyone(page: Page, others: int, who: str) -> None:
    until_true(page, ALL_FEEDS_DECODED.format(count=others), timeout=SLOW_MS / 1000, what=f"{who} seeing all")


def from_page(page: Page, token: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The API as the page's user, from the page (the app listens inside the namespace)."""
    return page.evaluate(
        """async ([method, path, body, token]) => {
          const headers = {
            Authorization: `Bearer ${token}`, "Content-Type": "application/json", "Accept-Language": "zh-CN",
          };
          const payload = body === null ? undefined : JSON.stringify(body);
          const response = await fetch(path, { method, headers, body: payload });
          return { status: response.status, body: await response.json() };
        }""",
        [method, path, body, token],
    )


def case_of_phone(database: Database, phone: str) -> int | None:
    return database.write_sync(lambda s: s.scalar(select(Case.id).where(Case.reporter_phone == phone)))


@pytest.mark.slow
def test_the_operator_invites_the_insurer_whose_agent_joins_sees_and_speaks_and_cannot_edit(
    stack: MediaStack,
) -> None:
    register_agent(stack.database)
    add_staff(stack.database, "supervisor-seat", Role.SUPERVISOR, None)
    base = stack.server.url
    console = operator_context_page(stack.browser, base)
    party = party_context_page(stack.browser, base)
    insurer = operator_context_page(stack.browser, base)
    staff_logs_in(console, "/console", "op-live")
    console.click("#go-available")
    expect(console.locator("#me-status")).to_have_text("空闲")
    agent_token = staff_logs_in(insurer, "/insurer", "cpic-wang")
    expect(insurer.locator("#invitations")).to_contain_text("暂无通话邀请")

    # The party reports by video call; the available operator gets it; both see each other.
    party_reports(party, stack.database, PARTY_PHONE)
    expect(console.locator("#call-view")).to_be_visible()
    sees_everyone(console, 1, "the operator")
    case_id = wait_until(lambda: case_of_phone(stack.database, PARTY_PHONE), what="the case")

    # The operator invites the insurer; the agent's page shows the invitation at once.
    expect(console.locator("#insurer-choice option[value=CPIC]")).to_have_count(1)
    console.select_option("#insurer-choice", "CPIC")
    console.click("#invite-insurer")
    invited = console.locator("#insurer-invitations")
    expect(invited).to_contain_text("已邀请中国太平洋财产保险", timeout=SLOW_MS)
    invitation = insurer.locator(f"#invitations li[data-case-id='{case_id}']")
    expect(invitation).to_be_visible(timeout=SLOW_MS)

    # The agent joins: they receive the party's and the operator's video, and the others theirs.
    invitation.get_by_role("button", name="加入通话").click()
    expect(insurer.locator("#call-view")).to_be_visible(timeout=SLOW_MS)
    sees_everyone(insurer, 2, "the insurer's agent")
    sees_everyone(party, 2, "the party")
    sees_everyone(console, 2, "the operator")
    expect(console.locator("#remote-feeds figcaption", has_text="王理赔")).to_have_count(1)

    # Nothing to edit on the agent's page, and a write from it is refused.
    expect(insurer.locator("#call-view input, #call-view select, #call-view textarea")).to_have_count(0)
    expect(insurer.locator("#call-view button")).to_have_count(1)  # leave the call
    facts = {"address": "保险公司改的地址", "accident_type": "rear_end", "weather": "sunny"}
    refused = from_page(insurer, agent_token, "PUT", f"/api/cases/{case_id}/facts", facts)
    assert refused["status"] == 403, refused
    assert refused["body"]["detail"] == "保险公司坐席只能观看和通话，不能修改案件"
    invited_again = from_page(
        insurer, agent_token, "POST", f"/api/cases/{case_id}/insurer-invitations", {"insurer_code": "CPIC"}
    )
    assert invited_again["status"] == 403, invited_again

    # The agent leaves; the replay says who was in the call, and when.
    insurer.click("#leave")
    expect(insurer.locator("#list-view")).to_be_visible()
    supervisor = operator_context_page(stack.browser, base)
    staff_logs_in(supervisor, "/supervisor", "supervisor-seat")
    number = stack.database.write_sync(lambda s: s.get_one(Case, case_id).number)
    supervisor.fill("#search-q", number)
    supervisor.click("#search-form button")
    supervisor.locator("#search-rows tr", has_text=number).get_by_role("button", name="打开").click()
    line = supervisor.locator("#replay-insurer-seats li")
    expect(line).to_have_text(
        re.compile(r"^保险公司坐席 中国太平洋财产保险 王理赔 在场 \d\d:\d\d–\d\d:\d\d$")
    )
    for page in (console, party, insurer, supervisor):
        page.context.close()
