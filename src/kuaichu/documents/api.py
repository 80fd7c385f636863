"""Documents for the people entitled to them, and the public verify page the QR code opens."""

from html import escape
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from kuaichu.cases.schemas import RowId
from kuaichu.documents import service
from kuaichu.documents.schemas import DocumentOut, DocumentStatusOut, VerificationOut
from kuaichu.errors import InvalidInput, UnsupportedMedia
from kuaichu.web.deps import Context, CurrentUser

router = APIRouter(tags=["documents"])

DocumentNumber = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,40}$")]
MAX_PDF_BYTES = 5 * 1024 * 1024


@router.get("/api/cases/{case_id}/documents", response_model=list[DocumentOut])
async def list_documents(case_id: RowId, viewer: CurrentUser, context: Context) -> list[DocumentOut]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_documents(s, viewer, case_id, now))


# What the OpenAPI document says of the answers that are not JSON.
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "认定书PDF（带电子签章），作为附件下载",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="认定书编号.pdf"',
                "required": True,
                "schema": {"type": "string"},
            }
        },
    }
}
# The QR code opens the verify page in a browser (Accept: text/html); other callers get JSON.
HTML_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}},
}


@router.get("/api/documents/{number}/pdf", response_class=Response, responses=PDF_RESPONSE)
async def download(number: DocumentNumber, viewer: CurrentUser, context: Context) -> Response:
    now = context.clock.now()
    filename, content = await context.database.write(lambda s: service.download(s, viewer, number, now))
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/verify/{number}", response_model=DocumentStatusOut, responses=HTML_TOO)
async def verify_page(
    number: DocumentNumber, request: Request, context: Context
) -> DocumentStatusOut | HTMLResponse:
    """Public: what was issued under this number (no personal data); upload a copy to check it."""
    authority = context.settings.issuing_authority
    status = await context.database.read(
        lambda s: service.public_status(s, number, authority, context.document_issuer.signer)
    )
    return _status_html(status) if _wants_html(request) else status


@router.post("/verify/{number}", response_model=VerificationOut, responses=HTML_TOO)
async def verify_upload(
    number: DocumentNumber, request: Request, context: Context, file: Annotated[UploadFile, File()]
) -> VerificationOut | HTMLResponse:
    uploaded = await file.read(MAX_PDF_BYTES + 1)
    if len(uploaded) > MAX_PDF_BYTES:
        raise InvalidInput("文件过大，认定书PDF不超过5MB")
    if not uploaded.startswith(b"%PDF-"):
        raise UnsupportedMedia("请上传PDF格式的认定书")
    issued_sha256, status = await context.database.read(lambda s: service.issued_digest(s, number))
    result = await anyio.to_thread.run_sync(
        service.verification, number, uploaded, issued_sha256, status, context.document_issuer.signer
    )
    return _result_html(result) if _wants_html(request) else result


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>认定书核验</title>
<link rel="stylesheet" href="/static/verify.css">
</head><body><h1>道路交通事故认定书核验</h1>{body}</body></html>"""


def _status_html(status: DocumentStatusOut) -> HTMLResponse:
    successor = f"<dt>替代认定书</dt><dd>{escape(status.replaced_by)}</dd>" if status.replaced_by else ""
    css = "ok" if status.status == "in_force" else "bad"
    body = (
        f"<dl><dt>认定书编号</dt><dd>{escape(status.number)}</dd>"
        f"<dt>签发日期</dt><dd>{status.issued_on.isoformat()}</dd>"
        f"<dt>签发机关</dt><dd>{escape(status.authority)}</dd>"
        f'<dt>状态</dt><dd class="{css}">{escape(status.status_label)}</dd>{successor}'
        f"<dt>原件SHA-256</dt><dd>{status.sha256}</dd></dl>"
        '<form method="post" enctype="multipart/form-data">'
        "<p>上传您持有的认定书PDF，核验是否为原件且未被修改：</p>"
        '<input type="file" name="file" accept="application/pdf" required> '
        '<button type="submit">核验</button>'
        "</form>"
    )
    return HTMLResponse(_PAGE.format(body=body))


def _result_html(result: VerificationOut) -> HTMLResponse:
    css = "ok" if result.authentic else "bad"
    body = (
        f"<p>认定书编号：{escape(result.number)}</p>"
        f'<p class="{css}"><strong>{escape(result.message)}</strong></p>'
        f'<p>当前状态：{escape(result.status_label)}</p><p><a href="">返回</a></p>'
    )
    return HTMLResponse(_PAGE.format(body=body))
