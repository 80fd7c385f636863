"""The statutory rules that propose each party's responsibility (art. 60, 61).

From the accident type and the acts the operator or officer recorded for each party, a rule
proposes: one party committed the act that the accident type names (the common list of
situations where one party bears full responsibility) and no other party committed any of
the listed acts. Anything else gets no proposal and the officer grades the shares. The
engine proposes; the officer decides (and writes why when overriding).
"""

from dataclasses import dataclass

from kuaichu.cases.catalogue import AccidentType
from kuaichu.legal import Citation
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
    accident_type: AccidentType  # the accident type this rule decides; its code is the rule's
    act: Act | None  # None: the rule needs no act (single-vehicle)
    wording: Text  # what the rule says, in the reader's language
    basis: str  # order No. 146
    list_item: int  # the common quick-handling list, LEGAL.md

    @property
    def code(self) -> str:
        return self.accident_type.value

    @property
    def label(self) -> str:
        """The wording in Chinese: the determination stores it with the proposal for the record
        (the determination is the Chinese legal text); other readers take `wording`."""
        return self.wording.render()


ART_60_1 = "art. 60 (1)"
# How much each vehicle's act contributed is the officer's call once three or more vehicles
# are involved (art. 60 (2)); the common list's situations are two-vehicle ones (LEGAL.md).
RULES_MAX_VEHICLES = 2
ART_60_2 = "art. 60 (2)"
RULES = (
    Rule(AccidentType.REAR_END, Act.REAR_END, Text("LiabilityRule.rear_end"), ART_60_1, 1),
    Rule(AccidentType.WRONG_WAY, Act.WRONG_WAY, Text("LiabilityRule.wrong_way"), ART_60_1, 2),
    Rule(AccidentType.REVERSING, Act.REVERSING, Text("LiabilityRule.reversing"), ART_60_1, 3),
    Rule(AccidentType.ROLLING, Act.ROLLING, Text("LiabilityRule.rolling"), ART_60_1, 4),
    Rule(AccidentType.DOOR, Act.DOOR, Text("LiabilityRule.door"), ART_60_1, 5),
    Rule(AccidentType.SIGNAL, Act.SIGNAL, Text("LiabilityRule.signal"), ART_60_1, 6),
    Rule(AccidentType.LANE_CHANGE, Act.LANE_CHANGE, Text("LiabilityRule.lane_change"), ART_60_1, 7),
    Rule(AccidentType.FAIL_TO_YIELD, Act.FAIL_TO_YIELD, Text("LiabilityRule.fail_to_yield"), ART_60_1, 7),
    Rule(AccidentType.U_TURN, Act.U_TURN, Text("LiabilityRule.u_turn"), ART_60_1, 8),
    Rule(
        AccidentType.ILLEGAL_PARKING, Act.ILLEGAL_PARKING, Text("LiabilityRule.illegal_parking"), ART_60_1, 9
    ),
    Rule(AccidentType.SINGLE_VEHICLE, None, Text("LiabilityRule.single_vehicle"), ART_60_1, 10),
)
RULES_BY_TYPE = {rule.accident_type: rule for rule in RULES}


@dataclass(frozen=True)
class Proposal:
    rule: Rule
    shares: dict[int, Responsibility]  # by party position

    @property
    def basis(self) -> Text:
        return Text("Liability.basis", article=Citation(self.rule.basis), item=self.rule.list_item)

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
    if not 2 <= len(positions) <= RULES_MAX_VEHICLES or len(actors) != 1 or at_fault != actors:
        return None
    actor = actors[0]
    if rule.act is Act.ILLEGAL_PARKING and parking is Responsibility.MAIN:
        # art. 60 (2): both contributed; the parked vehicle's fault is the graver one.
        main = Text("LiabilityRule.illegal_parking_main")
        rule = Rule(rule.accident_type, rule.act, main, ART_60_2, 9)
        return Proposal(
            rule, {p: Responsibility.MAIN if p == actor else Responsibility.MINOR for p in positions}
        )
    return Proposal(rule, {p: Responsibility.FULL if p == actor else Responsibility.NONE for p in positions})
