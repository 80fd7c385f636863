"""How code names its legal basis ("art. 13 (5)"), and how a person reads it."""

import re

ORDER_146 = "《道路交通事故处理程序规定》"
_ARTICLE = re.compile(r"art\. (\d+)(?: \((\d+)\))?")


def cite(basis: str) -> str:
    """'art. 13 (5), art. 19' -> 《道路交通事故处理程序规定》第13条第5项、第19条."""
    parts = [f"第{a}条" + (f"第{item}项" if item else "") for a, item in _ARTICLE.findall(basis)]
    return ORDER_146 + "、".join(parts) if parts else basis
