"""Documents for the people entitled to them, and the public verify page the QR code opens."""

from pathlib import Path as FilePath
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from kuaichu.cases.schemas import RowId
from kuaichu.documents import service
from kuaichu.documents.schemas import DocumentOut, DocumentStatusOut, VerificationOut
from kuaichu.errors import InvalidInput, UnsupportedMedia
from kuaichu.messages import Text, reader_locale, text
from kuaichu.web.deps import Context, CurrentUser

router = APIRouter(tags=["documents"])

DocumentNumber = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,40}$")]
MAX_PDF_BYTES = 5 * 1024 * 1024
# The verify page, for a browser; Jinja2Templates escapes every value (autoescape).
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")


@router.get("/api/cases/{case_id}/documents", response_model=list[DocumentOut])
async def list_documents(case_id: RowId, viewer: CurrentUser, context: Context) -> list[DocumentOut]:
    now = context.clock.now()
    return await context.database.write(lambda s: service.read_documents(s, viewer, case_id, now))


# What the OpenAPI document says of the answers that are not JSON.
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The determination PDF (electronically signed), as an attachment",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="<document number>.pdf"',
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


def _page(request: Request, values: dict[str, Any]) -> HTMLResponse:
    """The verify page in the visitor's language (their browser's Accept-Language)."""
    locale = reader_locale()

    def say(key: str, **params: object) -> str:
        return text(key, locale, **params)

    return templates.TemplateResponse(request, "verify.html", values | {"lang": locale.value, "t": say})


@router.get("/verify/{number}", response_model=DocumentStatusOut, responses=HTML_TOO)
async def verify_page(
    number: DocumentNumber, request: Request, context: Context
) -> DocumentStatusOut | HTMLResponse:
    """Public: what was issued under this number (no personal data); upload a copy to check it."""
    authority = context.settings.issuing_authority
    status = await context.database.read(
        lambda s: service.public_status(s, number, authority, context.document_issuer.signer)
    )
    if _wants_html(request):
        return _page(request, {"status": status})
    return status


@router.post("/verify/{number}", response_model=VerificationOut, responses=HTML_TOO)
async def verify_upload(
    number: DocumentNumber, request: Request, context: Context, file: Annotated[UploadFile, File()]
) -> VerificationOut | HTMLResponse:
    uploaded = await file.read(MAX_PDF_BYTES + 1)
    if len(uploaded) > MAX_PDF_BYTES:
        raise InvalidInput(Text("Document.too_large", megabytes=MAX_PDF_BYTES // (1024 * 1024)))
    if not uploaded.startswith(b"%PDF-"):
        raise UnsupportedMedia(Text("Document.not_pdf"))
    issued_sha256, status = await context.database.read(lambda s: service.issued_digest(s, number))
    result = await anyio.to_thread.run_sync(
        service.verification, number, uploaded, issued_sha256, status, context.document_issuer.signer
    )
    if _wants_html(request):
        return _page(request, {"result": result})
    return result
