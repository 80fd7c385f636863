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
from kuaichu.messages import Labelled


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
    label: str
    basis: str  # order No. 146
    list_item: int  # the common quick-handling list, LEGAL.md


RULES = (
    Rule("rear_end", "追尾", Act.REAR_END, "追尾的后车负全部责任", "art. 60 (1)", 1),
    Rule("wrong_way", "逆行", Act.WRONG_WAY, "逆行或越线的一方负全部责任", "art. 60 (1)", 2),
    Rule("reversing", "倒车", Act.REVERSING, "倒车的一方负全部责任", "art. 60 (1)", 3),
    Rule("rolling", "溜车", Act.ROLLING, "溜车的一方负全部责任", "art. 60 (1)", 4),
    Rule("door", "开关车门", Act.DOOR, "开关车门妨碍通行的一方负全部责任", "art. 60 (1)", 5),
    Rule("signal", "闯红灯", Act.SIGNAL, "违反交通信号的一方负全部责任", "art. 60 (1)", 6),
    Rule(
        "lane_change",
        "变更车道",
        Act.LANE_CHANGE,
        "变更车道妨碍正常行驶车辆的一方负全部责任",
        "art. 60 (1)",
        7,
    ),
    Rule(
        "fail_to_yield", "未按规定让行", Act.FAIL_TO_YIELD, "未按规定让行的一方负全部责任", "art. 60 (1)", 7
    ),
    Rule("u_turn", "掉头", Act.U_TURN, "掉头时与正常行驶车辆相撞的一方负全部责任", "art. 60 (1)", 8),
    Rule("illegal_parking", "违法停车", Act.ILLEGAL_PARKING, "违法停车的一方负责任", "art. 60 (1)", 9),
    Rule("single_vehicle", "单方事故", None, "单方事故的驾驶人负全部责任", "art. 60 (1)", 10),
)
RULES_BY_TYPE = {rule.accident_type: rule for rule in RULES}


@dataclass(frozen=True)
class Proposal:
    rule: Rule
    shares: dict[int, Responsibility]  # by party position

    @property
    def basis_text(self) -> str:
        return f"{cite(self.rule.basis)}；简易程序常见情形第{self.rule.list_item}项"

    def describe(self) -> str:
        return self.rule.label + "（" + self.basis_text + "）"


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
        rule = Rule(rule.code, rule.accident_type, rule.act, "违法停车的一方负主要责任", "art. 60 (2)", 9)
        return Proposal(
            rule, {p: Responsibility.MAIN if p == actor else Responsibility.MINOR for p in positions}
        )
    return Proposal(rule, {p: Responsibility.FULL if p == actor else Responsibility.NONE for p in positions})
