"""Masking of personal data for roles that don't need it in full (and for logs), and the
keyed hash that lets a party's masked phone still be matched to its owner."""

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def mask_id_number(value: str) -> str:
    """Keeps the region and the last digit: 330102**********1X style, as printed documents do."""
    return f"{value[:6]}{'*' * (len(value) - 8)}{value[-2:]}" if len(value) > 8 else "****"


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if name else name


def mask_plate(plate: str) -> str:
    """浙A12345 → 浙A****5: the issuing region stays, the vehicle is no longer named."""
    return f"{plate[:2]}{'*' * (len(plate) - 3)}{plate[-1:]}" if len(plate) > 3 else "****"


def mask_number(value: str) -> str:
    """A policy or other reference number: only its last four characters stay."""
    return f"{'*' * (len(value) - 4)}{value[-4:]}" if len(value) > 4 else "****"


def phone_key(phone: str, secret: str) -> str:
    """HMAC-SHA256 of a phone under the server's phone-key secret (个人信息保护法 art. 51:
    de-identification). An unkeyed hash of an 11-digit phone is reversed by trying them all;
    without the secret this one is not. It lets a party's own login still find the case after
    retention masked the phone (see kuaichu.retention)."""
    return hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()


# Keys under which details, payloads and registry answers carry a person's data, and how
# each is masked (masking twice changes nothing).
PERSONAL_KEYS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "owner": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "licence_number": mask_id_number,
    "plate_number": mask_plate,
    "insured_plate": mask_plate,
    "policy_number": mask_number,
}
# Keys under which someone's own words are kept (a reason, a note, a message naming a party):
# free text may name anyone, so it is treated as personal data as a whole.
FREE_TEXT_KEYS = frozenset({"reason", "reasons", "note", "message"})


def mask_personal(value: Any, free_text: Callable[[str], str]) -> Any:
    """A copy of a JSON value with every personal field masked and every free text replaced
    by `free_text(text)`, at any depth."""
    if isinstance(value, list):
        return [mask_personal(item, free_text) for item in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str) and key in PERSONAL_KEYS:
            masked[key] = PERSONAL_KEYS[key](item)
        elif isinstance(item, str) and key in FREE_TEXT_KEYS and item:
            masked[key] = free_text(item)
        else:
            masked[key] = mask_personal(item, free_text)
    return masked


class PathOnlyAccessLog(logging.Filter):
    """Drops the query string from uvicorn's access log lines: a query may carry a party's
    position, phone or plate (searches, service status), and logs are kept longer than cases."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, full_path, version, status = record.args
            record.args = (client, method, str(full_path).split("?", 1)[0], version, status)
        return True
