"""Domain errors, and the one place they become RFC 9457 problem+json responses."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


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


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.title, exc.detail, **exc.extra)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_name(tuple(err.get("loc", ()))), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    fields = "、".join(e["field"] for e in errors if e["field"]) or "请求内容"
    return problem(422, "输入有误", f"请检查：{fields}", errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return problem(exc.status_code, phrase, detail)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "服务器内部错误", "系统繁忙，请稍后再试")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
