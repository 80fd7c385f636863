"""Every catalogue key the code or the pages use is in every locale, and every key is used.

A key is used where the source names it: text("…") or Text("…") in Python, KC.t("…") or
data-i18n="…" in a page, or a string shaped like a key of a catalogue area ("Party.code_sent")
anywhere in them; as the label of a Labelled enum's member (`<Class>.<value>`); or as a key
built at run time (f"RegistryFailure.{code}", KC.label("PartyStep", step)...). Each family of
built keys is derived below from the table its codes come from, and a new kind of built key
fails the test until its family is added to FAMILIES.
"""

import ast
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

import kuaichu
from kuaichu.app import create_app
from kuaichu.calls.schemas import ServiceReason
from kuaichu.cases.schemas import PartiesIn
from kuaichu.claims.schemas import ClaimStep
from kuaichu.errors import _VALIDATION_TYPES
from kuaichu.messages import DEFAULT_LOCALE, Labelled, Locale, messages
from kuaichu.notify.templates import Sms
from kuaichu.registries import checks
from kuaichu.settings import Settings
from kuaichu.web.pages import render_pages

SOURCE = Path(kuaichu.__file__).parent
STATIC = SOURCE / "web" / "static"
# The app is made for its OpenAPI schema only: nothing is started, nothing written.
DATA_DIR = Path("/nonexistent/kuaichu")

KEY = re.compile(r"([A-Z][A-Za-z0-9]*)\.([A-Za-z0-9_]+)")
QUOTED_KEY = re.compile(r"""(["'`])([A-Z][A-Za-z0-9]*\.[A-Za-z0-9_]+)\1""")
PAGE_KEY = re.compile(r"""(?:\bKC\.t\(\s*|data-i18n(?:-[a-z-]+)?=)["']([^"'$]+)["']""")
# Keys a page builds: `Prefix.${code}`, `Prefix.head_${code}`, KC.label("Prefix", code).
PAGE_BUILT = re.compile(r"`([A-Z][A-Za-z0-9]*\.[a-z_]*)\$\{")
PAGE_LABEL = re.compile(r"""KC\.label\(\s*["']([A-Z][A-Za-z0-9]*)["']""")
COMMENTS = {
    ".js": re.compile(r"^\s*//.*$", re.MULTILINE),
    ".html": re.compile(r"<!--.*?-->|\{#.*?#\}", re.DOTALL),
}


@cache
def python_modules() -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(SOURCE.rglob("*.py"))]


@cache
def page_sources() -> list[str]:
    """The pages' scripts, their templates and the pages as served, comments left out."""
    texts = [
        COMMENTS[path.suffix].sub("", path.read_text(encoding="utf-8"))
        for path in sorted(SOURCE.rglob("*"))
        if path.suffix in COMMENTS
    ]
    return texts + [COMMENTS[".html"].sub("", body.decode()) for body in render_pages().values()]


def _labelled_enums(base: type = Labelled) -> Iterator[type[Labelled]]:
    for enum in base.__subclasses__():
        yield enum
        yield from _labelled_enums(enum)


def _page_list(page: str, name: str) -> set[str]:
    """The strings of a page script's `const NAME = [...]`."""
    found = re.search(rf"const {name} = \[([^\]]*)\]", (STATIC / page).read_text(encoding="utf-8"))
    assert found, f"{page} has no list {name}"
    return set(re.findall(r'"([^"]+)"', found.group(1)))


def _registry_failure_codes() -> set[str]:
    """The codes a registry check fails with: fail("code") and Failure("code") in the
    registries package, and its tables of the registry statuses that fail."""
    codes = set(checks.LICENCE_STATUS_FAILURES.values()) | set(checks.VEHICLE_STATUS_FAILURES.values())
    for path in (SOURCE / "registries").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("fail", "Failure") and isinstance(node.args[0].value, str):
                    codes.add(node.args[0].value)
    return codes


def _gate_codes() -> set[str]:
    """The codes of the collection gate's items: GateItem(code="…"), or `code = …` first."""
    codes: set[str] = set()
    for path in (SOURCE / "collection").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                value: ast.AST = node.value
            elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["code"]:
                value = node.value
            else:
                continue
            codes |= {
                c.value for c in ast.walk(value) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return codes


def _request_field_names() -> set[str]:
    """Every name a request's body, query or path gives a field: what a 422 names (Field.<name>)."""
    schema = create_app(Settings(data_dir=DATA_DIR)).openapi()
    components = schema["components"]["schemas"]
    names: set[str] = set()

    def walk(node: object, seen: frozenset[str] = frozenset()) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, seen)
        elif isinstance(node, dict):
            reference = node.get("$ref", "").rsplit("/", 1)[-1]
            if reference and reference not in seen:
                walk(components[reference], seen | {reference})
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value, seen)

    for path in schema["paths"].values():
        for operation in path.values():
            walk(operation.get("requestBody", {}))
            # A header (If-None-Match) is read as sent: no 422 names it.
            parameters = operation.get("parameters", [])
            names.update(parameter["name"] for parameter in parameters if parameter["in"] != "header")
    return names


def _party_positions() -> set[str]:
    """A case has at most as many parties as a request may list."""
    most = next(m.max_length for m in PartiesIn.model_fields["parties"].metadata if hasattr(m, "max_length"))
    return {str(position) for position in range(1, most + 1)}


# Keys built at run time, by the text before the code: where their codes come from. (A Labelled
# enum's name is a family of its own: its members.)
FAMILIES: dict[str, Callable[[], set[str]]] = {
    "CallService.": lambda: {reason.value for reason in ServiceReason},
    "PartyService.": lambda: {reason.value for reason in ServiceReason},
    "Field.": _request_field_names,
    "Validation.": lambda: set(_VALIDATION_TYPES),
    "Sms.": lambda: {sms.value for sms in Sms},
    "RegistryFailure.": _registry_failure_codes,
    "Collection.": _gate_codes,
    "Party.letter_": _party_positions,
    "PartyStep.": lambda: _page_list("party.js", "STEPS"),
    "PartyCall.": lambda: {state.replace("-", "_") for state in _page_list("party.js", "CALL_STATES")},
    "ConsoleLink.": lambda: _page_list("console.js", "LINK_STATES"),
    "ClaimStep.": lambda: {step.value for step in ClaimStep},
}


def built_prefixes() -> set[str]:
    """The text before the code of every key the sources build at run time."""
    prefixes: set[str] = set()
    for module in python_modules():
        for node in ast.walk(module):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = str(node.values[0].value)
                if re.fullmatch(r"[A-Z][A-Za-z0-9]*\.[a-z_]*", head):
                    prefixes.add(head)
    for source in page_sources():
        prefixes |= set(PAGE_BUILT.findall(source))
        prefixes |= {f"{name}." for name in PAGE_LABEL.findall(source)}
    return prefixes


def _catalogue_calls(module: ast.Module) -> set[str]:
    """The names text and Text have in a module that imports them from the catalogue (not,
    say, SQLAlchemy's text)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(module)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kuaichu.messages")
        for alias in node.names
        if alias.name in ("text", "Text")
    }


def passed_keys() -> set[str]:
    """What the sources pass as a key, whatever it looks like: text("…") and Text("…") in
    Python, KC.t("…") and data-i18n="…" (and its -placeholder, -aria-label) in the pages."""
    keys: set[str] = set()
    for module in python_modules():
        names = _catalogue_calls(module)
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.add(first.value)
    for source in page_sources():
        keys |= {key for key in PAGE_KEY.findall(source) if "{" not in key}
    return keys


def named_keys(areas: set[str]) -> set[str]:
    """Strings shaped like a key of a catalogue area that the sources write out."""
    strings = {
        node.value
        for module in python_modules()
        for node in ast.walk(module)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    strings |= {key for source in page_sources() for _, key in QUOTED_KEY.findall(source)}
    return {s for s in strings if (found := KEY.fullmatch(s)) and found.group(1) in areas}


def used_keys() -> set[str]:
    enums = {f"{enum.__name__}.": {member.value for member in enum} for enum in _labelled_enums()}
    unknown = sorted(built_prefixes() - FAMILIES.keys() - enums.keys())
    assert unknown == [], f"keys built from codes of unknown origin (add them to FAMILIES): {unknown}"
    families = {prefix: codes() | enums.get(prefix, set()) for prefix, codes in FAMILIES.items()}
    families = enums | families
    built = {prefix + code for prefix, codes in families.items() for code in codes}
    areas = {key.split(".")[0] for key in messages(DEFAULT_LOCALE)} | {p.split(".")[0] for p in families}
    return built | passed_keys() | named_keys(areas)


@pytest.fixture(scope="module")
def used() -> set[str]:
    return used_keys()


def test_the_keys_named_and_built_in_the_sources_are_found(used: set[str]) -> None:
    assert {"Party.code_sent", "Party.title", "Console.title", "CaseState.queued", "Sms.login_code"} <= used
    assert {"PartyStep.review_or_claim", "RegistryFailure.licence_suspended", "Field.plate_number"} <= used
    assert built_prefixes() >= {"RegistryFailure.", "Party.letter_", "PartyCall.", "EvidenceKind."}


@pytest.mark.parametrize("locale", list(Locale))
def test_every_key_in_use_is_in_every_locale(used: set[str], locale: Locale) -> None:
    assert sorted(used - messages(locale).keys()) == []


def test_every_key_in_the_catalogue_is_used(used: set[str]) -> None:
    assert sorted(messages(DEFAULT_LOCALE).keys() - used) == []
