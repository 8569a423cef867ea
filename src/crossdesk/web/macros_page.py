"""Settings → Macros: the workspace's saved replies (admins list, create, change and delete them).
Errors are shown next to their field, the form keeping what was typed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crossdesk.conversations import macros
from crossdesk.conversations.schemas import MacroIn, MacroOut, MacroPatch
from crossdesk.web.shell import AdminWrite, CurrentPage, Page, field_errors, render
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
PAGE = "/settings/macros"
FIELDS = ("name", "language", "body", "add_tags", "set_status")


async def _page(
    request: Request,
    page: Page,
    db: DB,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: int | None = None,
    code: int = 200,
) -> Response:
    if not page.can_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner or admin role required")
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        rows = [MacroOut.model_validate(m) for m in await macros.list_macros(session)]
    if form is None:
        current = next((m for m in rows if m.id == editing), None)
        form = _as_form(current) if current else {}
        editing = current.id if current else None
    context: dict[str, Any] = {
        "macros": rows,
        "form": form,
        "errors": errors or {},
        "editing": editing,
        "nav": "settings",
        "settings_tab": "macros",
    }
    return render(request, page, "macros.html", context, status_code=code)


def _as_form(macro: MacroOut) -> dict[str, str]:
    return {
        "name": macro.name,
        "language": macro.language or "",
        "body": macro.body,
        "add_tags": ", ".join(macro.add_tags),
        "set_status": macro.set_status or "",
    }


def _parse(form: dict[str, str]) -> MacroIn:
    return MacroIn.model_validate(
        {
            "name": form.get("name", ""),
            "language": form.get("language", "").strip() or None,
            "body": form.get("body", ""),
            "add_tags": [t.strip() for t in form.get("add_tags", "").split(",") if t.strip()],
            "set_status": form.get("set_status") or None,
        }
    )


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items() if k in FIELDS}


@router.get(PAGE, response_class=HTMLResponse)
async def macros_page(
    request: Request, page: CurrentPage, db: DB, edit: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    return await _page(request, page, db, editing=edit)


@router.post(PAGE, response_class=HTMLResponse)
async def create_macro(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await _form(request)
    try:
        data = _parse(form)
        async with db.transaction(page.principal.workspace_id) as session:
            await macros.create_macro(session, data, page.agent.id)
    except ValidationError as exc:
        return await _page(request, page, db, form, field_errors(exc), code=422)
    except macros.MacroError as exc:
        return await _page(request, page, db, form, {exc.field: str(exc)}, code=422)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{macro_id}", response_class=HTMLResponse)
async def update_macro(macro_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    form = await _form(request)
    try:
        data = _parse(form)
        async with db.transaction(page.principal.workspace_id) as session:
            await macros.update_macro(session, macro_id, MacroPatch(**data.model_dump()))
    except ValidationError as exc:
        return await _page(request, page, db, form, field_errors(exc), macro_id, code=422)
    except macros.MacroError as exc:
        return await _page(request, page, db, form, {exc.field: str(exc)}, macro_id, code=422)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{macro_id}/delete")
async def delete_macro(macro_id: RowId, page: AdminWrite, db: DB) -> Response:
    async with db.transaction(page.principal.workspace_id) as session:
        await macros.delete_macro(session, macro_id)
    return RedirectResponse(PAGE, status_code=303)
