"""The message catalogue: every word in every shipped locale, and every label it owes."""

import string

import pytest

import kuaichu.app  # noqa: F401  (imports every domain, so every Labelled enum exists)
from kuaichu.messages import DEFAULT_LOCALE, Labelled, Listed, Locale, Text, messages, negotiate, text


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _labelled_enums(base: type = Labelled) -> list[type[Labelled]]:
    found = []
    for enum in base.__subclasses__():
        found += [enum, *_labelled_enums(enum)]
    return found


@pytest.mark.parametrize("locale", list(Locale))
def test_every_locale_has_every_key_with_the_same_placeholders(locale: Locale) -> None:
    default = messages(DEFAULT_LOCALE)
    other = messages(locale)
    assert set(other) == set(default)
    differing = [key for key in default if _placeholders(default[key]) != _placeholders(other[key])]
    assert differing == []


@pytest.mark.parametrize("locale", list(Locale))
def test_every_member_of_every_labelled_enum_has_a_label(locale: Locale) -> None:
    enums = _labelled_enums()
    assert {"CaseState", "Action", "Role", "Responsibility"} <= {enum.__name__ for enum in enums}
    missing = [f"{enum.__name__}.{member.value}" for enum in enums for member in enum]
    missing = [key for key in missing if key not in messages(locale)]
    assert missing == []


def test_a_label_reads_in_the_asked_locale_and_fills_its_placeholders() -> None:
    from kuaichu.cases.lifecycle import Action, CaseState

    assert CaseState.QUEUED.label() == "排队等待接警"
    assert CaseState.QUEUED.label(Locale.EN) == "Waiting for an operator"
    message = text(
        "Lifecycle.state_may_not", Locale.EN, state="Closed", action=Action.EVACUATE.label(Locale.EN)
    )
    assert message == "The case is “Closed”: “Parties told to leave the scene” is not possible now"


def test_a_list_is_joined_as_the_readers_language_joins_it() -> None:
    from kuaichu.registries.schemas import RegistryKind

    kinds = Listed("Eligibility.separator", [RegistryKind.LICENCE, RegistryKind.VEHICLE])
    message = Text("Eligibility.with_details", reason=Text("EligibilityRule.licence"), details=kinds)
    assert kinds.render() == "驾驶证；机动车" and kinds.render(Locale.EN) == "Driving licence; Vehicle"
    assert message.render(Locale.EN).endswith("(Driving licence; Vehicle)")


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("en-US,en;q=0.9", Locale.EN),
        ("zh-TW,zh;q=0.8", Locale.ZH_CN),
        ("fr-FR, en;q=0.5", Locale.EN),
        ("de-DE", DEFAULT_LOCALE),
        ("", DEFAULT_LOCALE),
        (None, DEFAULT_LOCALE),
        ("!!, ;;", DEFAULT_LOCALE),
    ],
)
def test_the_locale_follows_the_browser_and_falls_back_to_chinese(header: str | None, locale: Locale) -> None:
    assert negotiate(header) is locale
