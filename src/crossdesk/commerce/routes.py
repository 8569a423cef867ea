"""Products, orders and imports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse

from crossdesk.commerce import importer, service
from crossdesk.commerce.schemas import ImportReport, ProductOut
from crossdesk.workspaces.deps import DB, AdminPrincipal, CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["commerce"])


@router.get("/products", response_model=list[ProductOut])
async def list_products(
    principal: CurrentPrincipal,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ProductOut]:
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        return await service.list_products(session, limit, offset)


@router.post(
    "/import/{kind}",
    response_model=ImportReport,
    responses={422: {"model": ImportReport, "description": "Invalid rows; nothing was stored."}},
)
async def import_file(
    kind: Literal["products", "orders"],
    principal: AdminPrincipal,
    db: DB,
    file: Annotated[UploadFile, File()],
) -> ImportReport | JSONResponse:
    """Import a CSV or JSON file of products or orders: all rows or none, errors naming row and field."""
    data = await file.read()
    try:
        rows = importer.parse(kind, data, file.filename or "upload.csv")
    except importer.ImportFailed as exc:
        report = ImportReport(kind=kind, rows=0, errors=exc.errors)
        return JSONResponse(report.model_dump(mode="json"), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        async with db.transaction(principal.workspace_id) as session:
            created, updated = await service.upsert_rows(session, rows)
    except ValueError as exc:  # e.g. an unparseable customer phone number
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return ImportReport(kind=kind, rows=len(rows), created=created, updated=updated)
