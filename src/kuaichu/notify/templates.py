"""The official SMS texts (短信模板): fixed wording, and parameters that no user can type.

An SMS that says 【快处】 speaks for the traffic police, so nothing a party, an insurer or a
member of staff typed may appear in one: a template carries only a case or document number,
a login code, a count of minutes, and the link to the product's own party page (added when
the message is sent, from the server's public address). Anything else is refused at enqueue
time, so a message that could carry free text never reaches the outbox.

The wording lives in the message catalogue (`Sms.<template>`, zh-CN and en): a party who chose
English on the party page gets English, with the registered signature 【快处】 and any legal
sentence (the review right) still in Chinese.
"""

import re
import string
from enum import StrEnum

from kuaichu.messages.catalogue import DEFAULT_LOCALE, Locale, messages, text


class Sms(StrEnum):
    """An official SMS; its wording is the catalogue's `Sms.<value>` in the party's locale."""

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
    # The link another party joins a case by (kuaichu.invitations): the case's number and the
    # party page's link carrying the case's invitation token, nothing the operator typed.
    JOIN_INVITATION = "join_invitation"

    @property
    def key(self) -> str:
        return f"Sms.{self.value}"


# A sentence with legal effect is sent in Chinese in every locale (the Chinese text is the one
# that binds): a template names it as a placeholder, filled from the zh-CN catalogue.
LEGAL_SENTENCES = {"review_right": "SmsLegal.review_right"}

# Every parameter a template may carry, and the only shape it may have.
PARAMETER_SHAPES = {
    "case_number": re.compile(r"\d{10,32}"),
    "document_number": re.compile(r"\d{10,32}-\d{1,3}"),
    "code": re.compile(r"\d{6}"),
    "minutes": re.compile(r"\d{1,3}"),
    # 32 random-looking bytes, base64url without padding (kuaichu.invitations).
    "join_token": re.compile(r"[A-Za-z0-9_-]{43}"),
}
LINK = "link"
PARTY_PAGE = "/party"
# Parameters that the link carries rather than the text: in the URL's fragment, which no server,
# proxy log or Referer ever sees.
LINK_PARAMETERS = {Sms.JOIN_INVITATION: "join_token"}


def party_link(public_base_url: str, join_token: str | None = None) -> str:
    """The party page's address; with a join token, the link another party joins a case by."""
    link = public_base_url.rstrip("/") + PARTY_PAGE
    return f"{link}#join={join_token}" if join_token else link


def placeholders(template: Sms) -> set[str]:
    """What the template needs (a test keeps every locale's placeholders the same)."""
    return {
        name for _, name, _, _ in string.Formatter().parse(messages(DEFAULT_LOCALE)[template.key]) if name
    }


def check_parameters(template: Sms, parameters: dict[str, str]) -> None:
    """Raise ValueError unless `parameters` are exactly what the template needs, each in its shape."""
    needed = placeholders(template) - {LINK, *LEGAL_SENTENCES}
    if template in LINK_PARAMETERS:
        needed.add(LINK_PARAMETERS[template])
    if set(parameters) != needed:
        raise ValueError(f"SMS {template}: parameters {sorted(parameters)} != {sorted(needed)}")
    for name, value in parameters.items():
        if not PARAMETER_SHAPES[name].fullmatch(value):
            raise ValueError(f"SMS {template}: parameter {name} is not a {name}")


def render(
    template: Sms, parameters: dict[str, str], public_base_url: str, locale: Locale = DEFAULT_LOCALE
) -> str:
    """The SMS in `locale`, its legal sentences in Chinese whatever the locale."""
    check_parameters(template, parameters)
    legal = {name: text(key, DEFAULT_LOCALE) for name, key in LEGAL_SENTENCES.items()}
    in_text = {name: value for name, value in parameters.items() if name not in LINK_PARAMETERS.values()}
    link = party_link(public_base_url, parameters.get("join_token"))
    return text(template.key, locale, **in_text, **legal, link=link)
