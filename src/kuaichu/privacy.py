"""Masking of personal data for roles that don't need it in full (and for logs)."""


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def mask_id_number(value: str) -> str:
    """Keeps the region and the last digit: 330102**********1X style, as printed documents do."""
    return f"{value[:6]}{'*' * (len(value) - 8)}{value[-2:]}" if len(value) > 8 else "****"


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if name else name
