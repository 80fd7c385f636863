"""The names a person reads for the fields of every request (字段名称): the one table of them.

A validation error names its field by its path in the request ("parties.0.plate_number");
`field_label` turns that path into what the form calls it ("当事人1 号牌号码"), so the
message reads "当事人1 号牌种类与号牌不符", never "parties.0".
"""

from collections.abc import Sequence

FIELD_LABELS: dict[str, str] = {
    # Report and location (报警、定位)
    "lat": "纬度",
    "lng": "经度",
    "location": "定位",
    "mode": "接入方式",
    # Facts (事故基本情况)
    "occurred_at": "发生时间",
    "address": "地点",
    "accident_type": "事故类型",
    "weather": "天气",
    "description": "经过",
    "facts": "事故基本情况",
    # Parties (当事人)
    "parties": "当事人",
    "name": "姓名",
    "phone": "手机号",
    "id_number": "身份证号",
    "licence_number": "驾驶证号",
    "plate_number": "号牌号码",
    "plate_type": "号牌种类",
    "vehicle_type": "车辆类型",
    "insurer_code": "交强险承保公司",
    "policy_number": "交强险保单号",
    "position": "当事人序号",
    "acts": "该方行为",
    "impact_point": "碰撞部位",
    # Login (登录)
    "code": "验证码",
    "username": "用户名",
    "password": "密码",
    # Evidence (证据)
    "file": "文件",
    "kind": "证据类型",
    "party_position": "所属当事人",
    # Collection, transfer, officer, review, claim
    "override": "放行",
    "keys": "放行项目",
    "reason": "理由",
    "reasoning": "认定理由",
    "override_reason": "与建议不同的理由",
    "shares": "责任划分",
    "party_id": "当事人",
    "responsibility": "责任",
    "reasons": "复核理由",
    "outcome": "复核结论",
    "note": "说明",
    "status": "状态",
    # Eligibility questions (能否快处)
    "injury": "有人受伤",
    "vehicles_immovable": "车辆不能移动",
    "facts_disputed": "对事实有争议",
    "drink_or_drugs_suspected": "涉嫌饮酒或服用毒品",
    "overload_or_speeding_suspected": "涉嫌超载或超速",
    "plate_missing_or_forged": "无号牌或号牌涉嫌伪造",
    "party_left_scene": "当事人驾车逃逸",
    "deliberate": "故意造成事故",
    "public_facility_damage_unknown_owner": "损坏公共设施且无法确定产权人",
}

# Lists whose items are people: item i is "当事人{i+1}".
PARTY_LISTS = frozenset({"parties"})
# Where a request nests the parties one level deeper (自行协商: parties.parties).
PARTY_CONTAINERS = frozenset({"parties"})


def field_label(path: Sequence[str | int]) -> str:
    """The Chinese name of the field at `path` (request body/query/path prefixes removed)."""
    words: list[str] = []
    parent: str | int | None = None
    for part in path:
        if isinstance(part, int):
            if parent in PARTY_LISTS:
                words[-1] = f"当事人{part + 1}"
            else:
                words.append(f"第{part + 1}项")
        elif part in PARTY_CONTAINERS and parent in PARTY_CONTAINERS:
            pass  # parties.parties reads as one "当事人"
        else:
            words.append(FIELD_LABELS.get(part, "输入内容"))
        parent = part
    return " ".join(words)
