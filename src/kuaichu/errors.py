"""Domain errors, and the one place they become RFC 9457 problem+json responses."""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from kuaichu.messages import Locale, Text, negotiate, text

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

FieldLabel = Callable[[Sequence[str | int], Locale], str]


class DomainError(Exception):
    """A refusal a person reads: its title by class, its detail a Text (or, still, a literal)."""

    status = 400
    title = Text("Problem.bad_request")

    def __init__(self, detail: str | Text, **extra: Any) -> None:
        super().__init__(str(detail))
        self.message = detail
        self.extra = extra

    @property
    def detail(self) -> str:
        return str(self.message)

    def response(self, locale: Locale, headers: Mapping[str, str] | None = None) -> JSONResponse:
        detail = self.message.render(locale) if isinstance(self.message, Text) else self.message
        return problem(self.status, self.title.render(locale), detail, headers, **self.extra)


class NotFound(DomainError):
    status = 404
    title = Text("Problem.not_found")


class NotAuthenticated(DomainError):
    status = 401
    title = Text("Problem.not_authenticated")


class Forbidden(DomainError):
    status = 403
    title = Text("Problem.forbidden")


class InvalidInput(DomainError):
    status = 422
    title = Text("Problem.invalid_input")


class Conflict(DomainError):
    status = 409
    title = Text("Problem.conflict")


class IllegalTransition(Conflict):
    title = Text("Problem.illegal_transition")


class TooLarge(DomainError):
    status = 413
    title = Text("Problem.too_large")


class UnsupportedMedia(DomainError):
    status = 415
    title = Text("Problem.unsupported_media")


class RateLimited(DomainError):
    status = 429
    title = Text("Problem.rate_limited")


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class Gone(DomainError):
    """Deleted on purpose, e.g. by retention after its period (已按规定期限删除)."""

    status = 410
    title = Text("Problem.gone")


class Unavailable(DomainError):
    status = 503
    title = Text("Problem.unavailable")


def locale_of(headers: Mapping[str, str]) -> Locale:
    """Whom a response speaks to: the page sends its chosen locale as Accept-Language."""
    return negotiate(headers.get("accept-language"))


def _field_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    return tuple(part for part in loc if part not in ("body", "query", "path", "form"))


def _field_name(path: tuple[str | int, ...]) -> str:
    """The machine-readable path ("parties.0.plate_number"): the page places the message by it."""
    return ".".join(str(part) for part in path)


def _plain_label(path: Sequence[str | int], _: Locale) -> str:
    return _field_name(tuple(path))


# Pydantic's error types that the catalogue words (Validation.<type>); others read "invalid".
_VALIDATION_TYPES = frozenset(
    {
        "missing",
        "string_too_short",
        "string_too_long",
        "too_short",
        "too_long",
        "string_pattern_mismatch",
        "greater_than_equal",
        "less_than_equal",
        "greater_than",
        "less_than",
        "int_parsing",
        "int_type",
        "float_parsing",
        "float_type",
        "bool_parsing",
        "bool_type",
        "string_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_type",
        "enum",
        "literal_error",
        "list_type",
        "model_type",
        "dict_type",
        "json_invalid",
        "extra_forbidden",
        "timezone_aware",
        "string_contains_nul",
    }
)


def _message(err: dict[str, Any], locale: Locale) -> str:
    """What is wrong with the field: our validators' own text, else the catalogue's by its type."""
    kind = err.get("type", "")
    context = err.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        said = getattr(context.get("error"), "args", None) or [text("Validation.invalid", locale)]
        # A validator raises ValueError(Text(...)): said in the reader's locale.
        return said[0].render(locale) if isinstance(said[0], Text) else str(said[0])
    if kind not in _VALIDATION_TYPES:
        return text("Validation.invalid", locale)
    try:
        return text(f"Validation.{kind}", locale, **context)
    except (KeyError, IndexError):
        return text("Validation.invalid", locale)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return exc.response(locale_of(request.headers))


def _validation_handler(field_label: FieldLabel) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
        """422 with each error as the form names it: `field` the path (where the page shows it),
        `label` the field's name, `message` the label and what is wrong with it."""
        assert isinstance(exc, RequestValidationError)
        locale = locale_of(request.headers)
        errors = []
        for err in exc.errors():
            path = _field_path(tuple(err.get("loc", ())))
            label = field_label(path, locale) if path else ""
            what = _message(err, locale)
            errors.append(
                {
                    "field": _field_name(path),
                    "label": label,
                    "message": f"{label} {what}" if label and not what.startswith(label) else what,
                }
            )
        found = text("Validation.separator", locale).join(dict.fromkeys(e["message"] for e in errors))
        detail = text("Validation.check", locale, errors=found or text("Validation.invalid", locale))
        return problem(422, text("Problem.invalid_input", locale), detail, errors=errors)

    return _validation_error


# What the framework answers itself (an unknown path, a method the path lacks, a body that
# cannot be parsed), said like everything else.
_HTTP_TITLES = {400: "Problem.bad_request", 404: "Problem.not_found", 405: "Problem.method_not_allowed"}
_HTTP_DETAILS = {
    "There was an error parsing the body": "Problem.unparseable_body",
    "Not Found": "Problem.not_found",
    "Method Not Allowed": "Problem.method_not_allowed_detail",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    locale = locale_of(request.headers)
    phrase = HTTPStatus(exc.status_code).phrase
    title = text(_HTTP_TITLES[exc.status_code], locale) if exc.status_code in _HTTP_TITLES else phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if detail in _HTTP_DETAILS:
        detail = text(_HTTP_DETAILS[detail], locale)
    # Headers the framework set go along (405's Allow).
    return problem(exc.status_code, title, detail, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    locale = locale_of(request.headers)
    return problem(500, text("Problem.server_error", locale), text("Problem.server_error_detail", locale))


def install_problem_handlers(app: FastAPI, field_label: FieldLabel = _plain_label) -> None:
    """`field_label` names a request field for people (the cases package owns the table;
    this base module may not import it)."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_handler(field_label))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
