"""The statutory rules that propose each party's responsibility (art. 60, 61).

From the accident type and the acts the operator or officer recorded for each party, a rule
proposes: one party committed the act that the accident type names (the common list of
situations where one party bears full responsibility) and no other party committed any of
the listed acts. Anything else gets no proposal and the officer grades the shares. The
engine proposes; the officer decides (and writes why when overriding).
"""

from dataclasses import dataclass

from kuaichu.legal import cite
from kuaichu.liability.grades import Responsibility
from kuaichu.messages import DEFAULT_LOCALE, Labelled, Locale, Text, text


class Act(Labelled):
    """What a party did, as recorded in the facts (each is one item of the common list)."""

    REAR_END = "rear_end"
    WRONG_WAY = "wrong_way"
    REVERSING = "reversing"
    ROLLING = "rolling"
    DOOR = "door"
    SIGNAL = "signal"
    LANE_CHANGE = "lane_change"
    FAIL_TO_YIELD = "fail_to_yield"
    U_TURN = "u_turn"
    ILLEGAL_PARKING = "illegal_parking"


@dataclass(frozen=True)
class Rule:
    code: str
    accident_type: str  # the catalogue's 事故类型 this rule decides
    act: Act | None  # None: the rule needs no act (single-vehicle)
    wording: Text  # what the rule says, in the reader's language
    basis: str  # order No. 146
    list_item: int  # the common quick-handling list, LEGAL.md

    @property
    def label(self) -> str:
        """The wording in Chinese: the determination stores it with the proposal for the record
        (the determination is the Chinese legal text); other readers take `wording`."""
        return self.wording.render()


RULES = (
    Rule("rear_end", "追尾", Act.REAR_END, Text("LiabilityRule.rear_end"), "art. 60 (1)", 1),
    Rule("wrong_way", "逆行", Act.WRONG_WAY, Text("LiabilityRule.wrong_way"), "art. 60 (1)", 2),
    Rule("reversing", "倒车", Act.REVERSING, Text("LiabilityRule.reversing"), "art. 60 (1)", 3),
    Rule("rolling", "溜车", Act.ROLLING, Text("LiabilityRule.rolling"), "art. 60 (1)", 4),
    Rule("door", "开关车门", Act.DOOR, Text("LiabilityRule.door"), "art. 60 (1)", 5),
    Rule("signal", "闯红灯", Act.SIGNAL, Text("LiabilityRule.signal"), "art. 60 (1)", 6),
    Rule("lane_change", "变更车道", Act.LANE_CHANGE, Text("LiabilityRule.lane_change"), "art. 60 (1)", 7),
    Rule(
        "fail_to_yield",
        "未按规定让行",
        Act.FAIL_TO_YIELD,
        Text("LiabilityRule.fail_to_yield"),
        "art. 60 (1)",
        7,
    ),
    Rule("u_turn", "掉头", Act.U_TURN, Text("LiabilityRule.u_turn"), "art. 60 (1)", 8),
    Rule(
        "illegal_parking",
        "违法停车",
        Act.ILLEGAL_PARKING,
        Text("LiabilityRule.illegal_parking"),
        "art. 60 (1)",
        9,
    ),
    Rule("single_vehicle", "单方事故", None, Text("LiabilityRule.single_vehicle"), "art. 60 (1)", 10),
)
RULES_BY_TYPE = {rule.accident_type: rule for rule in RULES}


@dataclass(frozen=True)
class Proposal:
    rule: Rule
    shares: dict[int, Responsibility]  # by party position

    @property
    def basis(self) -> Text:
        return Text("Liability.basis", article=cite(self.rule.basis), item=self.rule.list_item)

    @property
    def basis_text(self) -> str:
        """In Chinese, as the determination stores it for the record (see `Rule.label`)."""
        return self.basis.render()

    def describe(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return text("Liability.proposal", locale, rule=self.rule.wording, basis=self.basis)


def propose(
    accident_type: str | None,
    acts: dict[int, set[Act]],
    positions: list[int],
    parking: Responsibility = Responsibility.FULL,
) -> Proposal | None:
    """The proposal of the one rule that fits, or None when the officer must grade alone.

    `parking` is the local rule for illegal parking: full, or main (the other party minor).
    """
    rule = RULES_BY_TYPE.get(accident_type or "")
    if rule is None:
        return None
    if rule.act is None:
        if len(positions) != 1:
            return None
        return Proposal(rule, {positions[0]: Responsibility.FULL})
    at_fault = [p for p in positions if acts.get(p)]
    actors = [p for p in positions if rule.act in acts.get(p, set())]
    # Both at fault, or the named act not recorded: no rule applies alone (the officer grades).
    if len(positions) < 2 or len(actors) != 1 or at_fault != actors:
        return None
    actor = actors[0]
    if rule.act is Act.ILLEGAL_PARKING and parking is Responsibility.MAIN:
        # art. 60 (2): both contributed; the parked vehicle's fault is the graver one.
        main = Text("LiabilityRule.illegal_parking_main")
        rule = Rule(rule.code, rule.accident_type, rule.act, main, "art. 60 (2)", 9)
        return Proposal(
            rule, {p: Responsibility.MAIN if p == actor else Responsibility.MINOR for p in positions}
        )
    return Proposal(rule, {p: Responsibility.FULL if p == actor else Responsibility.NONE for p in positions})
