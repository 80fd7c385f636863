"""The OpenAPI document declares every status and content type an operation can answer.

Insurers generate their clients from `/openapi.json`, so an error the document does not name
is a broken client. Errors are made in one place (kuaichu.errors: problem+json), and so they
are declared in one place, here: each operation gets the statuses its route can produce,
derived from what the route is (logged in? scoped to roles? ids in the path? a body? a write
governed by the access table?), plus the few a service raises that the route's shape does
not tell (EXTRA_STATUSES). Successful answers that are not JSON (a PDF, evidence files, the
verify page's HTML) are declared on their routes.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from kuaichu.cases.access import CASELESS_RULES, WRITE_ROUTES, WriteRule
from kuaichu.errors import PROBLEM_JSON
from kuaichu.web.deps import current_principal, require
from kuaichu.web.security import BODY_METHODS, PUBLIC_API

PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "description": (
            "RFC 9457 problem details: every error is answered in this shape (application/problem+json)."
            " `title` and `detail` follow the request's Accept-Language (zh-CN by default, en)."
        ),
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "The problem type (about:blank)"},
            "title": {"type": "string", "description": "A short title, e.g. “输入有误” (Invalid input)"},
            "status": {"type": "integer", "description": "The HTTP status code"},
            "detail": {"type": "string", "description": "What went wrong, for the person using the app"},
            "errors": {
                "type": "array",
                "description": "Each invalid field, when the input is invalid (422)",
                "items": {"$ref": "#/components/schemas/FieldProblem"},
            },
            "field": {"type": "string", "description": "The field in error"},
            "state": {"type": "string", "description": "The case's current state (on a state conflict)"},
            "code": {"type": "string", "description": "A machine-readable reason"},
        },
        "additionalProperties": True,
    },
    "FieldProblem": {
        "title": "FieldProblem",
        "type": "object",
        "required": ["field", "label", "message"],
        "properties": {
            "field": {"type": "string", "description": "The field's path, e.g. parties.0.plate_number"},
            "label": {"type": "string", "description": "The field's name, in the reader's language"},
            "message": {"type": "string", "description": "What is wrong with the field"},
        },
    },
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token a party or a staff member gets by logging in",
    },
    "insurerKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The insurer's API key",
    },
}

DESCRIPTIONS = {
    400: "The request body cannot be parsed (not valid UTF-8, JSON or form data)",
    401: "Not logged in, the login has expired, or the credentials are invalid",
    403: "The caller's role or identity may not do this",
    404: "Does not exist, or is not within what the caller may see",
    409: "Not possible in the current state",
    410: "Deleted at the end of its retention period",
    413: "The request is too large",
    415: "Unsupported file type",
    422: "Invalid input: a parameter or the body breaks the rules, or holds an illegal NUL character",
    429: "Too many requests",
    503: "A service this depends on is unavailable for now",
}

# What a service raises that the route's shape does not tell; everything else is derived.
EXTRA_STATUSES: dict[tuple[str, str], frozenset[int]] = {
    ("POST", "/api/auth/sms-code"): frozenset({429}),
    ("POST", "/api/auth/party"): frozenset({401}),  # a wrong or expired code
    ("POST", "/api/auth/staff"): frozenset({401, 429}),  # a wrong password; lockout
    ("POST", "/api/auth/refresh"): frozenset({401}),  # a spent, revoked or expired token
    ("POST", "/api/calls"): frozenset({429}),  # reports per phone and per address
    ("POST", "/api/settlements"): frozenset({429}),  # proposals per sender, recipient, address
    ("POST", "/api/cases/{case_id}/evidence"): frozenset({415}),  # sniffed by content
    ("GET", "/api/cases/{case_id}/evidence/{item_id}/content"): frozenset({409, 410}),  # tampered; purged
    ("GET", "/api/cases/{case_id}/registry-lookup"): frozenset({503}),  # the registries are down
    ("POST", "/api/cases/{case_id}/media-pass"): frozenset({503}),  # the media server is down
    ("GET", "/api/cases/{case_id}/my-data"): frozenset({403}),  # a party not named in the case
    ("GET", "/api/cases"): frozenset({403}),  # a signal filter from someone who does not weigh signals
    ("POST", "/verify/{number}"): frozenset({415}),  # not a PDF
    # The join link: only the reporting party shows it, while the case is in the call.
    ("GET", "/api/cases/{case_id}/join-link"): frozenset({403, 409}),
    ("GET", "/api/cases/{case_id}/join-code.svg"): frozenset({403, 409}),
    ("GET", "/api/cases/{case_id}/joins"): frozenset({403}),  # not the operator on the call
    ("POST", "/api/cases/{case_id}/join-link/sms"): frozenset({429}),  # join SMS per case per hour
    ("POST", "/api/joins"): frozenset({404, 410}),  # an unknown link; a revoked or expired one
    ("GET", "/api/cases/{case_id}/insurer-invitations"): frozenset({403}),  # not the call's operator
}


@dataclass(frozen=True)
class Operation:
    """One method of one route, as far as the errors it can answer go."""

    method: str
    path: str
    dependant: Dependant
    has_body: bool

    def _calls(self) -> Iterator[Callable[..., Any]]:
        stack = list(self.dependant.dependencies)
        while stack:
            dependency = stack.pop()
            if dependency.call is not None:
                yield dependency.call
            stack.extend(dependency.dependencies)

    @property
    def authenticated(self) -> bool:
        """Its dependencies ask who is calling, or the edge does (a body to a non-public API route)."""
        checked_at_edge = (
            self.method in BODY_METHODS and self.path.startswith("/api/") and self.path not in PUBLIC_API
        )
        return checked_at_edge or any(call is current_principal for call in self._calls())

    @property
    def role_scoped(self) -> bool:
        """Open to some roles only (web.deps.require): the others get 404."""
        return any(
            getattr(call, "__module__", None) == require.__module__
            and getattr(call, "__qualname__", "").startswith(f"{require.__name__}.")
            for call in self._calls()
        )

    @property
    def write_rule(self) -> WriteRule | None:
        return WRITE_ROUTES.get((self.method, self.path))

    def error_statuses(self) -> set[int]:
        # Any path or query may carry a NUL (refused at the edge) or fail validation.
        statuses = {422}
        if self.has_body:
            statuses |= {400, 413}
        if self.authenticated:
            statuses.add(401)
        if self.role_scoped or "{" in self.path:
            statuses.add(404)
        rule = self.write_rule
        if rule is not None and rule not in (WriteRule.PUBLIC, WriteRule.OWN_SESSION):
            # ensure_may_write refuses a role or a person (403); the lifecycle, a state (409).
            statuses |= {403, 409}
            if rule not in CASELESS_RULES:
                statuses.add(404)
        return statuses | EXTRA_STATUSES.get((self.method, self.path), frozenset())


def operations(app: FastAPI) -> Iterator[Operation]:
    """The documented operations, with the route each comes from."""
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, routing.APIRoute) or not context.include_in_schema:
            continue
        for method in sorted(context.methods or ()):
            yield Operation(method, context.path_format, context.dependant, context.body_field is not None)


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def declare_errors(app: FastAPI, document: dict[str, Any]) -> None:
    """Add each operation's error answers (problem+json) and its credentials to `document`."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(PROBLEM_SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for operation in operations(app):
        spec = document["paths"][operation.path][operation.method.lower()]
        responses = spec["responses"]
        for status in sorted(operation.error_statuses()):
            # A route's own description (e.g. why the staff login says 429) is kept.
            description = responses.get(str(status), {}).get("description")
            responses[str(status)] = problem_response(status, description if status != 422 else None)
        spec["responses"] = dict(sorted(responses.items()))
        if operation.authenticated:
            spec["security"] = [{"bearer": []}, {"insurerKey": []}]
    # FastAPI's own validation error shapes: nothing answers them (errors.py makes problems).
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(document):
            schemas.pop(unused, None)


def install_openapi(app: FastAPI) -> None:
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            declare_errors(app, default())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
