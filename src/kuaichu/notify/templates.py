"""The official SMS texts (短信模板): fixed wording, and parameters that no user can type.

An SMS that says 【快处】 speaks for the traffic police, so nothing a party, an insurer or a
member of staff typed may appear in one: a template carries only a case or document number,
a login code, a count of minutes, and the link to the product's own party page (added when
the message is sent, from the server's public address). Anything else is refused at enqueue
time, so a message that could carry free text never reaches the outbox.
"""

import re
import string
from enum import StrEnum


class Sms(StrEnum):
    LOGIN_CODE = "login_code"
    EVACUATE = "evacuate"
    TRANSFERRED = "transferred"
    DETERMINED = "determined"
    SEND_BACK = "send_back"
    ORDINARY_PROCEDURE = "ordinary_procedure"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_UPHELD = "review_upheld"
    REVIEW_REVOKED = "review_revoked"
    AGREEMENT_PROPOSED = "agreement_proposed"
    AGREEMENT_CONFIRMED = "agreement_confirmed"
    AGREEMENT_REJECTED = "agreement_rejected"
    CLAIM_PROGRESS = "claim_progress"


TEXTS: dict[Sms, str] = {
    Sms.LOGIN_CODE: "【快处】您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作请忽略。",
    Sms.EVACUATE: "【快处】事故{case_number}现场证据已采集完毕，请立即撤离现场，恢复交通。"
    "事故认定结果将以短信通知，进度请见 {link}",
    Sms.TRANSFERRED: "【快处】事故{case_number}需由民警现场处置，请保护现场、开启危险报警闪光灯，"
    "在安全地带等候民警到场。",
    Sms.DETERMINED: "【快处】事故{case_number}已作出认定，电子事故认定书编号{document_number}，"
    "请在 {link} 的“网办进度”中查看各方责任并下载。如对认定有异议，可自送达之日起三日内提出书面复核申请。",
    Sms.SEND_BACK: "【快处】事故{case_number}需要补充现场证据。请在安全地带打开 {link} ，"
    "点击“补充视频取证”，将优先为您接通。",
    Sms.ORDINARY_PROCEDURE: "【快处】事故{case_number}已转为一般程序处理，"
    "办案民警将与您联系，请保持电话畅通。",
    Sms.REVIEW_REQUESTED: "【快处】事故{case_number}已有当事人申请复核，复核期间请等待通知。",
    Sms.REVIEW_UPHELD: "【快处】事故{case_number}复核结论：维持原认定。详情请见 {link}",
    Sms.REVIEW_REVOKED: "【快处】事故{case_number}复核结论：撤销原认定，将由其他民警重新认定。"
    "详情请见 {link}",
    Sms.AGREEMENT_PROPOSED: "【快处】有当事人就事故{case_number}发起自行协商，并登记您为另一方当事人。"
    "请打开 {link} 确认或提出异议；如与您无关，请忽略本短信。",
    Sms.AGREEMENT_CONFIRMED: "【快处】事故{case_number}双方已确认协商结果，可在 {link} 一键提交定损理赔。",
    Sms.AGREEMENT_REJECTED: "【快处】事故{case_number}协商未达成一致，请保护现场，拨打122报警，"
    "等候民警到场处理。",
    Sms.CLAIM_PROGRESS: "【快处】您在事故{case_number}中的理赔有新进度，请打开 {link} 查看。",
}

# Every parameter a template may carry, and the only shape it may have.
PARAMETER_SHAPES = {
    "case_number": re.compile(r"\d{10,32}"),
    "document_number": re.compile(r"\d{10,32}-\d{1,3}"),
    "code": re.compile(r"\d{6}"),
    "minutes": re.compile(r"\d{1,3}"),
}
LINK = "link"
PARTY_PAGE = "/party"


def placeholders(template: Sms) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(TEXTS[template]) if name}


def check_parameters(template: Sms, parameters: dict[str, str]) -> None:
    """Raise ValueError unless `parameters` are exactly what the template needs, each in its shape."""
    needed = placeholders(template) - {LINK}
    if set(parameters) != needed:
        raise ValueError(f"SMS {template}: parameters {sorted(parameters)} != {sorted(needed)}")
    for name, value in parameters.items():
        if not PARAMETER_SHAPES[name].fullmatch(value):
            raise ValueError(f"SMS {template}: parameter {name} is not a {name}")


def render(template: Sms, parameters: dict[str, str], public_base_url: str) -> str:
    check_parameters(template, parameters)
    return TEXTS[template].format(**parameters, link=public_base_url.rstrip("/") + PARTY_PAGE)
