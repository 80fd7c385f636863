"""Domain errors, and the one place they become RFC 9457 problem+json responses."""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

FieldLabel = Callable[[Sequence[str | int]], str]


class DomainError(Exception):
    status = 400
    title = "请求有误"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "未找到"


class NotAuthenticated(DomainError):
    status = 401
    title = "需要登录"


class Forbidden(DomainError):
    status = 403
    title = "无权操作"


class InvalidInput(DomainError):
    status = 422
    title = "输入有误"


class Conflict(DomainError):
    status = 409
    title = "状态冲突"


class IllegalTransition(Conflict):
    title = "当前状态不允许此操作"


class TooLarge(DomainError):
    status = 413
    title = "内容过大"


class UnsupportedMedia(DomainError):
    status = 415
    title = "不支持的文件类型"


class RateLimited(DomainError):
    status = 429
    title = "请求过于频繁"


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class Gone(DomainError):
    """Deleted on purpose, e.g. by retention after its period (已按规定期限删除)."""

    status = 410
    title = "已删除"


class Unavailable(DomainError):
    status = 503
    title = "服务暂时不可用"


def _field_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    return tuple(part for part in loc if part not in ("body", "query", "path", "form"))


def _field_name(path: tuple[str | int, ...]) -> str:
    """The machine-readable path ("parties.0.plate_number"): the page places the message by it."""
    return ".".join(str(part) for part in path)


def _plain_label(path: Sequence[str | int]) -> str:
    return _field_name(tuple(path))


# Pydantic's error types, said in Chinese ({...} from the error's context).
_MESSAGES = {
    "missing": "必须填写",
    "string_too_short": "至少{min_length}个字",
    "string_too_long": "最多{max_length}个字",
    "too_short": "至少{min_length}项",
    "too_long": "最多{max_length}项",
    "string_pattern_mismatch": "格式不正确",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "greater_than": "须大于{gt}",
    "less_than": "须小于{lt}",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "float_parsing": "须为数字",
    "float_type": "须为数字",
    "bool_parsing": "须为是或否",
    "bool_type": "须为是或否",
    "string_type": "须为文字",
    "datetime_parsing": "时间格式不正确",
    "datetime_from_date_parsing": "时间格式不正确",
    "datetime_type": "时间格式不正确",
    "enum": "不在可选范围内",
    "literal_error": "不在可选范围内",
    "list_type": "须为列表",
    "model_type": "格式不正确",
    "dict_type": "格式不正确",
    "json_invalid": "请求内容不是有效的数据格式",
    "extra_forbidden": "不应填写",
    "timezone_aware": "须带时区（如 +08:00）",
    "string_contains_nul": "含有不可见的非法字符",
}


def _message(err: dict[str, Any]) -> str:
    """The error in Chinese: our validators' own text (already Chinese), else by its type."""
    kind = err.get("type", "")
    context = err.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        error = context.get("error")
        return str(error) if error is not None else "格式不正确"
    template = _MESSAGES.get(kind, "格式不正确")
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return "格式不正确"


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.title, exc.detail, **exc.extra)


def _validation_handler(field_label: FieldLabel) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
        """422 with each error as the form names it: `field` the path (where the page shows it),
        `label` the field's Chinese name, `message` the label and what is wrong with it."""
        assert isinstance(exc, RequestValidationError)
        errors = []
        for err in exc.errors():
            path = _field_path(tuple(err.get("loc", ())))
            label = field_label(path) if path else ""
            what = _message(err)
            errors.append(
                {
                    "field": _field_name(path),
                    "label": label,
                    "message": f"{label} {what}" if label and not what.startswith(label) else what,
                }
            )
        detail = "；".join(dict.fromkeys(e["message"] for e in errors)) or "请求内容有误"
        return problem(422, "输入有误", f"请检查：{detail}", errors=errors)

    return _validation_error


# What the framework answers itself (an unknown path, a method the path lacks, a body that
# cannot be parsed), said in Chinese like everything else.
_HTTP_TITLES = {400: "请求有误", 404: "未找到", 405: "不支持的请求方法"}
_HTTP_DETAILS = {
    "There was an error parsing the body": "请求内容无法解析，请检查格式和编码",
    "Not Found": "未找到",
    "Method Not Allowed": "该地址不支持此请求方法",
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    title = _HTTP_TITLES.get(exc.status_code, phrase)
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    # Headers the framework set go along (405's Allow).
    return problem(exc.status_code, title, _HTTP_DETAILS.get(detail, detail), headers=exc.headers)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "服务器内部错误", "系统繁忙，请稍后再试")


def install_problem_handlers(app: FastAPI, field_label: FieldLabel = _plain_label) -> None:
    """`field_label` names a request field for people (the cases package owns the table;
    this base module may not import it)."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_handler(field_label))
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
