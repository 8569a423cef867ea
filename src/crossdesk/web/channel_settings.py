"""The channels settings page: connect a channel account of any kind, switch it on or off, replace its
secrets. Owners and admins only; secrets are write-only here as in the API (a new account's own secret
is shown once)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crossdesk.channels import service
from crossdesk.channels.registry import ADAPTERS
from crossdesk.channels.routes import account_out
from crossdesk.web.channel_forms import config_from_form, fields_of
from crossdesk.web.settings_pages import AdminPage
from crossdesk.web.shell import AdminWrite, Page, render
from crossdesk.workspaces.deps import DB, RowId

router = APIRouter(include_in_schema=False)
PAGE = "/settings/channels"
# Post/redirect/get: a new account's secret rides to the next page view in a short-lived cookie that only
# this page reads, and is dropped there, so a reload neither shows it again nor connects a second account.
CREATED_COOKIE = "crossdesk_channel_created"


async def _page(
    request: Request,
    page: Page,
    db: DB,
    created: dict[str, Any] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        rows = await service.list_accounts(session)
    if created is not None:  # only an account of this workspace is named, and only then the secret shown
        created["name"] = next((r.name for r in rows if str(r.id) == created["id"]), None)
        created = created if created["name"] is not None else None
    context = {
        "nav": "settings",
        "settings_tab": "channels",
        "accounts": [account_out(request, row) for row in rows],
        "kinds": {kind: fields_of(adapter) for kind, adapter in sorted(ADAPTERS.items())},
        "created": created,
        "error": error,
    }
    return render(request, page, "channels.html", context, status_code=code)


@router.get(PAGE, response_class=HTMLResponse)
async def channels_page(request: Request, page: AdminPage, db: DB) -> Response:
    created = None
    if (flash := request.cookies.get(CREATED_COOKIE, "")).count("|") == 1:
        account_id, secret = flash.split("|")
        created = {"id": account_id, "secret": secret}
    response = await _page(request, page, db, created=created)
    response.delete_cookie(CREATED_COOKIE, path=PAGE)
    return response


def _form_error(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())


@router.post(PAGE + "/{kind}", response_class=HTMLResponse)
async def add_channel(kind: str, request: Request, page: AdminWrite, db: DB) -> Response:
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown channel kind {kind!r}")
    form = {k: str(v) for k, v in (await request.form()).items()}
    name = form.get("name", "").strip()[:200] or kind
    config, secrets = config_from_form(adapter, form)
    try:
        config = adapter.Config.model_validate(config).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        return await _page(request, page, db, error=_form_error(exc), code=422)
    async with db.transaction(page.principal.workspace_id) as session:
        row, secret = await service.create_account(session, kind, name, config, secrets)
    response = RedirectResponse(PAGE, status_code=303)
    response.set_cookie(
        CREATED_COOKIE,
        f"{row.id}|{secret}",
        max_age=120,
        path=PAGE,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    return response


@router.post(PAGE + "/{account_id}/update")
async def update_channel(account_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    """Switch on/off, and replace the secrets filled in (blank ones are kept)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    async with db.transaction(page.principal.workspace_id) as session:
        row = await service.get_account(session, account_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"channel {account_id} not found")
        names = ADAPTERS[row.kind].credential_names if row.kind in ADAPTERS else ()
        secrets = {n: form[n].strip() for n in names if form.get(n, "").strip()}
        changes = {"is_active": form.get("is_active") == "on", "credentials": secrets}
        await service.update_account(session, account_id, changes)
    request.app.state.channels.forget(row.kind, row.public_id)
    return RedirectResponse(PAGE, status_code=303)
