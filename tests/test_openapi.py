"""The OpenAPI document declares what each operation answers: errors as problem+json with the
statuses the route can produce, credentials where they are needed, and the answers that are
not JSON (the PDF, evidence files, the verify page). Schemathesis checks the whole document
against a live server (test_api_fuzz.py, slow); these are the quick checks."""

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Api

from kuaichu.app import create_app
from kuaichu.errors import PROBLEM_JSON
from kuaichu.settings import Settings
from kuaichu.web.openapi import EXTRA_STATUSES

Operations = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def _operations(document: dict[str, Any]) -> Operations:
    return {
        (method.upper(), path): spec
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    }


def _is_problem(response: dict[str, Any]) -> bool:
    return response["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_every_error_is_documented_as_problem_json(document: dict[str, Any]) -> None:
    for (method, path), spec in _operations(document).items():
        responses = spec["responses"]
        assert "422" in responses, f"{method} {path}"
        errors = {status: r for status, r in responses.items() if int(status) >= 400}
        assert all(_is_problem(r) for r in errors.values()), f"{method} {path}: {errors}"
    schemas = document["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas  # FastAPI's shape: nothing answers with it


def test_every_operation_behind_a_login_documents_401_and_its_credentials(document: dict[str, Any]) -> None:
    operations = _operations(document)
    behind_login = {key for key, spec in operations.items() if "security" in spec}
    assert ("GET", "/api/insurer/claims") in behind_login
    assert ("POST", "/api/cases/{case_id}/evidence") in behind_login
    assert ("POST", "/api/auth/party") not in behind_login
    assert ("GET", "/verify/{number}") not in behind_login
    for key in behind_login:
        assert "401" in operations[key]["responses"], key
    assert set(document["components"]["securitySchemes"]) == {"bearer", "insurerKey"}
    # Scoped to roles or to a case: others are told it is not found.
    assert "404" in operations[("GET", "/api/supervision/audit")]["responses"]
    assert "404" in operations[("GET", "/api/cases/{case_id}")]["responses"]
    # A write governed by the access table: refused (403) or not now (409).
    assert {"403", "404", "409"} <= set(operations[("POST", "/api/cases/{case_id}/take")]["responses"])
    # A body can be unparseable or too large.
    assert {"400", "413"} <= set(operations[("PUT", "/api/cases/{case_id}/facts")]["responses"])


def test_files_and_pages_are_documented_with_their_content_types(document: dict[str, Any]) -> None:
    operations = _operations(document)
    pdf = operations[("GET", "/api/documents/{number}/pdf")]["responses"]["200"]
    assert set(pdf["content"]) == {"application/pdf"}
    assert pdf["headers"]["Content-Disposition"]["required"] is True
    evidence = operations[("GET", "/api/cases/{case_id}/evidence/{item_id}/content")]["responses"]["200"]
    assert {"image/jpeg", "image/png", "video/mp4"} <= set(evidence["content"])
    assert "application/json" not in evidence["content"]
    for method in ("GET", "POST"):
        page = operations[(method, "/verify/{number}")]["responses"]["200"]
        assert set(page["content"]) == {"application/json", "text/html"}
    assert "415" in operations[("POST", "/verify/{number}")]["responses"]


def test_every_listed_extra_status_names_an_operation(document: dict[str, Any]) -> None:
    assert set(EXTRA_STATUSES) <= set(_operations(document))


def _path_with_ids(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_an_anonymous_caller_gets_a_documented_answer_from_every_operation(api: Api) -> None:
    """Each operation as nobody: an operation behind a login answers 401, any other one answers
    something else; whatever it answers, the document declares that status and content type."""
    operations = _operations(api.app.openapi())
    for (method, path), spec in operations.items():
        if path == "/api/auth/sms-code":
            continue  # sends an SMS (rate limited); its 422 is all an empty body gets anyway
        json_body = {} if "application/json" in spec.get("requestBody", {}).get("content", {}) else None
        response = await api.client.request(method, _path_with_ids(path), json=json_body)
        status = str(response.status_code)
        assert status in spec["responses"], f"{method} {path} answered {status}: {response.text}"
        media_type = response.headers.get("content-type", "").split(";")[0]
        documented = spec["responses"][status].get("content", {})
        assert media_type in documented or (not documented and not response.content), (method, path)
        assert (status == "401") == ("security" in spec), f"{method} {path} answered {status}"


async def test_a_body_that_cannot_be_parsed_is_a_documented_400_in_chinese(api: Api) -> None:
    response = await api.client.post(
        "/api/auth/party", content=b"\x80\x81", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["title"] == "请求有误"
    assert response.json()["detail"] == "请求内容无法解析，请检查格式和编码"


async def test_a_method_the_path_lacks_says_which_it_has(api: Api) -> None:
    response = await api.client.post("/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["title"] == "不支持的请求方法"


def test_the_document_is_built_once(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    assert app.openapi() is app.openapi()
