"""Every word a person reads, in every locale the product ships: one catalogue, keyed by stable ids.

The texts live in gettext `.po` files (`locales/<locale>.po`), one per locale, so translators
work with the field's tools (Poedit, Weblate). Each msgid is a stable key such as
`CaseState.queued`; the msgstr is the text. Placeholders use Python's `{name}` format.
"""

from kuaichu.messages.catalogue import (
    DEFAULT_LOCALE,
    Labelled,
    Listed,
    Locale,
    Text,
    messages,
    negotiate,
    reader_locale,
    reading,
    text,
)

__all__ = [
    "DEFAULT_LOCALE",
    "Labelled",
    "Listed",
    "Locale",
    "Text",
    "messages",
    "negotiate",
    "reader_locale",
    "reading",
    "text",
]
