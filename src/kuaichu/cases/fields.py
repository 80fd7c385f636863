"""The names a person reads for the fields of every request (字段名称), as the form calls them.

A validation error names its field by its path in the request ("parties.0.plate_number");
`field_label` turns that path into what the form calls it ("当事人1 号牌号码"), so the
message reads "当事人1 号牌种类与号牌不符", never "parties.0". Each field's
name is the catalogue's `Field.<name>`.
"""

from collections.abc import Sequence

from kuaichu.messages import DEFAULT_LOCALE, Locale, messages, text

# Lists whose items are people: item i is "当事人{i+1}".
PARTY_LISTS = frozenset({"parties"})
# Where a request nests the parties one level deeper (自行协商: parties.parties).
PARTY_CONTAINERS = frozenset({"parties"})


def field_label(path: Sequence[str | int], locale: Locale = DEFAULT_LOCALE) -> str:
    """The name of the field at `path` (request body/query/path prefixes removed)."""
    words: list[str] = []
    parent: str | int | None = None
    known = messages(locale)
    for part in path:
        if isinstance(part, int):
            if parent in PARTY_LISTS:
                words[-1] = text("Field.party_n", locale, number=part + 1)
            else:
                words.append(text("Field.item_n", locale, number=part + 1))
        elif part in PARTY_CONTAINERS and parent in PARTY_CONTAINERS:
            pass  # parties.parties reads as one "当事人"
        else:
            words.append(
                text(f"Field.{part}", locale) if f"Field.{part}" in known else text("Field.unknown", locale)
            )
        parent = part
    return " ".join(words)
