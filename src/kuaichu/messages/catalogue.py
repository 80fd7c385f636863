"""Loading the `.po` files, looking texts up, and choosing a locale."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale as BabelLocale
from babel import UnknownLocaleError
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"


class Locale(StrEnum):
    """The locales the product ships, as BCP 47 tags (what browsers send)."""

    ZH_CN = "zh-CN"
    EN = "en"

    @property
    def po_name(self) -> str:
        return self.value.replace("-", "_")


DEFAULT_LOCALE = Locale.ZH_CN

# Whom the code running now speaks to: the web edge sets it per request from Accept-Language
# (as Django's translation.activate does); outside a request it is the default locale.
_reader: ContextVar[Locale] = ContextVar("reader_locale", default=DEFAULT_LOCALE)


def reader_locale() -> Locale:
    """The locale of the request being served (zh-CN outside one)."""
    return _reader.get()


@contextmanager
def reading(locale: Locale) -> Iterator[None]:
    """Speak to a reader of `locale` within the block."""
    token = _reader.set(locale)
    try:
        yield
    finally:
        _reader.reset(token)


@cache
def messages(locale: Locale) -> dict[str, str]:
    """Every key of `locale` with its text; read once per process (babel parses the .po)."""
    with (LOCALES_DIR / f"{locale.po_name}.po").open("rb") as po:
        catalog = read_po(po, locale=locale.po_name)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def text(key: str, locale: Locale = DEFAULT_LOCALE, /, **params: object) -> str:
    """The text of `key` in `locale`, its `{placeholders}` filled from `params`.

    A parameter that is itself a label (a Labelled member) or a Text is said in the same locale.
    A key missing from a locale falls back to the default locale (a test keeps them complete);
    a key missing everywhere is a programming error and raises KeyError.
    """
    template = messages(locale).get(key) or messages(DEFAULT_LOCALE)[key]
    return template.format(**{name: _said(value, locale) for name, value in params.items()})


def _said(value: object, locale: Locale) -> object:
    if isinstance(value, Labelled):
        return value.label(locale)
    if isinstance(value, Text):
        return value.render(locale)
    return value


class Text:
    """A text to be said later, in the reader's locale (an error raised deep in a service is
    rendered when the response knows who reads it)."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: object) -> None:
        self.key = key
        self.params = params

    def render(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return text(self.key, locale, **self.params)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.key!r}, **{self.params!r})"


class Listed(Text):
    """Several texts said as one list, joined as the reader's language joins them: the key is the
    separator's (e.g. "；" in Chinese, "; " in English). A part may be a Text, a label or a str."""

    __slots__ = ("parts",)

    def __init__(self, separator: str, parts: Iterable[object]) -> None:
        super().__init__(separator)
        self.parts = tuple(parts)

    def render(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return text(self.key, locale).join(str(_said(part, locale)) for part in self.parts)

    def __repr__(self) -> str:
        return f"Listed({self.key!r}, {self.parts!r})"


@lru_cache(maxsize=512)  # every request asks; browsers send a handful of distinct headers
def negotiate(accept_language: str | None) -> Locale:
    """The shipped locale that best fits an Accept-Language header (or a page's own choice).

    Only the language counts: zh-TW or zh-Hans read Simplified Chinese, the one Chinese shipped.
    """
    by_language = {BabelLocale.parse(locale.po_name).language: locale for locale in Locale}
    for part in (accept_language or "").split(","):
        try:
            language = BabelLocale.parse(part.split(";")[0].strip(), sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in by_language:
            return by_language[language]
    return DEFAULT_LOCALE


class Labelled(StrEnum):
    """An enum whose members each have a catalogue label under `<ClassName>.<value>`."""

    def label(self, locale: Locale | None = None) -> str:
        """The label in `locale`; without one, in the reader's (a label in API JSON follows who
        reads it). Anything persisted or legal passes its locale explicitly."""
        return text(f"{type(self).__name__}.{self.value}", locale or reader_locale())
