"""The settings pages of owners and admins: team, business hours and SLA, auto-assignment, tags and API
tokens. Agents get a 403 on every one of them (their own preferences live in the top bar).

Forms post back to the page; a rejected form is shown again with each error next to its field (422),
an accepted one redirects (post/redirect/get), except a new API token, shown once on the answer itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crossdesk.conversations import tags as tag_service
from crossdesk.conversations.sla import WEEKDAYS, parse_hours
from crossdesk.web import i18n
from crossdesk.web.i18n import gettext
from crossdesk.web.shell import AdminWrite, Page, current_page, render
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, RowId
from crossdesk.workspaces.schemas import AgentIn, AgentPatch, TokenIn, WorkspacePatch

router = APIRouter(include_in_schema=False)
Errors = dict[str, str]
Form = dict[str, str]
SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
MAX_FIELD = 2000


async def admin_page(page: Annotated[Page, Depends(current_page)]) -> Page:
    if not page.can_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "owner or admin role required")
    return page


AdminPage = Annotated[Page, Depends(admin_page)]


@contextmanager
def speaking(page: Page) -> Iterator[None]:
    """Error messages made in a handler, in the agent's language (``render`` does this for templates)."""
    with i18n.viewing(page.viewer):
        yield


async def read_form(request: Request) -> Form:
    """The posted fields as text, each cut to a sane length (validation says the rest)."""
    return {k: str(v)[:MAX_FIELD] for k, v in (await request.form()).items() if isinstance(v, str)}


def field_messages() -> dict[str, str]:
    return {
        "email": gettext("Enter a valid e-mail address."),
        "name": gettext("Enter a name of up to 200 characters."),
        "password": gettext("Use at least 8 characters."),
        "timezone": gettext("Unknown time zone; use a name such as Europe/Berlin."),
        "languages": gettext("Use language codes such as de, ja, zh, separated by commas."),
        "role": gettext("Choose one of the roles."),
        "availability": gettext("Choose online, away or offline."),
        "sla_first_response_minutes": gettext("Enter whole minutes from 1 to 43200."),
        "sla_next_response_minutes": gettext("Enter whole minutes from 1 to 43200."),
    }


def validation_errors(exc: ValidationError) -> Errors:
    """A model's errors by field, in words an agent reads (call inside ``speaking``)."""
    messages = field_messages()
    errors: Errors = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        errors.setdefault(name, messages.get(name, gettext("Check this value.")))
    return errors


def split_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


# Weekly hours as a form: one text field a weekday, "09:00-12:00, 13:00-18:00", empty for closed.


def hours_text(hours: Mapping[str, Any] | None) -> dict[str, str]:
    return {day: ", ".join(f"{a}-{b}" for a, b in (hours or {}).get(day, [])) for day in WEEKDAYS}


def parse_day(day: str, raw: str) -> list[list[str]]:
    """One weekday's field → its intervals; ValueError (translated) naming what is wrong."""
    spans = []
    for part in split_list(raw):
        match = SPAN.match(part)
        if match is None:
            raise ValueError(gettext("Write intervals as 09:00-18:00, separated by commas."))
        for value in match.groups():
            try:
                dt.time.fromisoformat(value.zfill(5))
            except ValueError:
                raise ValueError(
                    gettext("%(value)s is not a time of day (00:00 to 23:59).", value=value)
                ) from None
        spans.append([match.group(1).zfill(5), match.group(2).zfill(5)])
    try:
        parse_hours({day: spans})
    except ValueError as exc:
        overlap = "overlap" in str(exc)
        raise ValueError(
            gettext("The intervals overlap.") if overlap else gettext("An interval ends before it starts.")
        ) from None
    return spans


def parse_week(form: Form, prefix: str) -> tuple[dict[str, list[list[str]]], Errors]:
    """The seven weekday fields ``<prefix><day>`` → (hours, errors by field name)."""
    hours: dict[str, list[list[str]]] = {}
    errors: Errors = {}
    for day in WEEKDAYS:
        try:
            hours[day] = parse_day(day, form.get(prefix + day, ""))
        except ValueError as exc:
            errors[prefix + day] = str(exc)
    return hours, errors


def day_names() -> dict[str, str]:
    return dict(
        zip(
            WEEKDAYS,
            (
                gettext("Monday"),
                gettext("Tuesday"),
                gettext("Wednesday"),
                gettext("Thursday"),
                gettext("Friday"),
                gettext("Saturday"),
                gettext("Sunday"),
            ),
            strict=True,
        )
    )


def show(
    request: Request, page: Page, template: str, tab: str, context: dict[str, Any], code: int = 200
) -> Response:
    base = {"nav": "settings", "settings_tab": tab, "errors": {}, "zones": sorted(available_timezones())}
    return render(request, page, template, {**base, **context}, status_code=code)


# Team


async def _team(request: Request, page: Page, db: DB, context: dict[str, Any], code: int = 200) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        agents = await workspaces.list_agents(session)
    values = {"role": "agent", "timezone": page.workspace.timezone, **context.pop("values", {})}
    return show(
        request, page, "settings_team.html", "team", {"agents": agents, "values": values, **context}, code
    )


@router.get("/settings/team", response_class=HTMLResponse)
async def team_page(request: Request, page: AdminPage, db: DB) -> Response:
    return await _team(request, page, db, {"added": request.query_params.get("added")})


@router.post("/settings/team", response_class=HTMLResponse)
async def add_agent(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    fields = {k: form.get(k, "").strip() for k in ("name", "email", "role", "timezone")}
    errors: Errors = {}
    with speaking(page):
        try:
            body = AgentIn.model_validate(
                {
                    **fields,
                    "password": form.get("password", ""),
                    "languages": split_list(form.get("languages", "")),
                }
            )
        except ValidationError as exc:
            errors = validation_errors(exc)
        else:
            if body.role == "owner" and page.principal.role != "owner":
                errors["role"] = gettext("Only an owner can add an owner.")
            else:
                try:
                    async with db.transaction(page.principal.workspace_id) as session:
                        await workspaces.create_agent(
                            session, page.principal.workspace_id, **body.model_dump()
                        )
                except workspaces.Conflict:
                    errors["email"] = gettext("An agent with this e-mail exists already.")
    if errors:
        values = {**fields, "languages": form.get("languages", "")}
        return await _team(request, page, db, {"errors": errors, "values": values, "open_add": True}, 422)
    return RedirectResponse(f"/settings/team?added={body.email}", status_code=303)


async def _agent_or_404(db: DB, page: Page, agent_id: int) -> Any:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        agent = await workspaces.get_agent(session, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"agent {agent_id} not found")
    return agent


@router.get("/settings/team/{agent_id}", response_class=HTMLResponse)
async def agent_page(agent_id: RowId, request: Request, page: AdminPage, db: DB) -> Response:
    agent = await _agent_or_404(db, page, agent_id)
    values = {
        "role": agent.role,
        "languages": ", ".join(agent.languages),
        "timezone": agent.timezone,
        "availability": agent.availability,
        "is_active": agent.is_active,
    }
    return show(request, page, "settings_agent.html", "team", {"agent": agent, "values": values})


async def apply_agent_change(db: DB, page: Page, agent_id: int, body: dict[str, Any]) -> Errors:
    """Validate and apply a change to an agent (the API's rules); errors by field, in the agent's language."""
    with speaking(page):
        try:
            changes = AgentPatch.model_validate(body).changes()
        except ValidationError as exc:
            return validation_errors(exc)
        try:
            async with db.transaction(page.principal.workspace_id) as session:
                await workspaces.update_agent(session, agent_id, changes, page.principal.role)
        except LookupError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except workspaces.NotAllowed:
            return {"role": gettext("Only an owner can make, demote or deactivate an owner.")}
        except workspaces.LastOwner:
            field = "is_active" if changes.get("role", "owner") == "owner" else "role"
            return {field: gettext("The workspace needs at least one active owner.")}
    return {}


@router.post("/settings/team/{agent_id}", response_class=HTMLResponse)
async def edit_agent(agent_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in ("role", "timezone", "availability")}
    values["is_active"] = form.get("is_active") == "on"
    body = {**values, "languages": split_list(form.get("languages", ""))}
    errors = await apply_agent_change(db, page, agent_id, body)
    if not errors:
        return RedirectResponse("/settings/team", status_code=303)
    agent = await _agent_or_404(db, page, agent_id)
    values["languages"] = form.get("languages", "")
    context = {"agent": agent, "values": values, "errors": errors}
    return show(request, page, "settings_agent.html", "team", context, 422)


# Business hours and SLA


@router.get("/settings/hours", response_class=HTMLResponse)
async def hours_page(request: Request, page: AdminPage) -> Response:
    ws = page.workspace
    values = {
        "timezone": ws.timezone,
        "sla_first_response_minutes": str(ws.sla_first_response_minutes),
        "sla_next_response_minutes": str(ws.sla_next_response_minutes),
        **{f"day-{d}": text for d, text in hours_text(ws.business_hours).items()},
    }
    context = {"values": values, "saved": "saved" in request.query_params}
    with speaking(page):
        context["days"] = day_names()
    return show(request, page, "settings_hours.html", "hours", context)


@router.post("/settings/hours", response_class=HTMLResponse)
async def save_hours(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    names = ("timezone", "sla_first_response_minutes", "sla_next_response_minutes")
    values = {k: form.get(k, "").strip() for k in names}
    with speaking(page):
        hours, errors = parse_week(form, "day-")
        try:
            patch = WorkspacePatch.model_validate(
                {**values, "business_hours": hours} if not errors else values
            )
        except ValidationError as exc:
            errors |= validation_errors(exc)
        days = day_names()
    if errors:
        context = {"values": {**values, **{k: form.get(k, "") for k in form if k.startswith("day-")}}}
        return show(
            request, page, "settings_hours.html", "hours", {**context, "errors": errors, "days": days}, 422
        )
    async with db.transaction(page.principal.workspace_id) as session:
        await workspaces.update_workspace(
            session, page.principal.workspace_id, patch.model_dump(exclude_unset=True)
        )
    return RedirectResponse("/settings/hours?saved", status_code=303)


# Auto-assignment


async def _assignment(
    request: Request, page: Page, db: DB, context: dict[str, Any], code: int = 200
) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        agents = await workspaces.list_agents(session)
    values = {
        a.id: {
            "languages": ", ".join(a.languages),
            **{f"shift-{d}": t for d, t in hours_text(a.shifts).items()},
        }
        for a in agents
    }
    values.update(context.pop("values", {}))
    with speaking(page):
        days = day_names()
    context = {"agents": agents, "values": values, "days": days, "agent_errors": {}, **context}
    return show(request, page, "settings_assignment.html", "assignment", context, code)


@router.get("/settings/assignment", response_class=HTMLResponse)
async def assignment_page(request: Request, page: AdminPage, db: DB) -> Response:
    return await _assignment(request, page, db, {})


@router.post("/settings/assignment")
async def set_auto_assign(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    async with db.transaction(page.principal.workspace_id) as session:
        await workspaces.update_workspace(
            session, page.principal.workspace_id, {"auto_assign": form.get("auto_assign") == "on"}
        )
    return RedirectResponse("/settings/assignment", status_code=303)


@router.post("/settings/assignment/{agent_id}", response_class=HTMLResponse)
async def set_shifts(agent_id: RowId, request: Request, page: AdminWrite, db: DB) -> Response:
    """An agent's languages and weekly shifts (all days empty: always on shift)."""
    form = await read_form(request)
    with speaking(page):
        shifts, errors = parse_week(form, "shift-")
    if not errors:
        body = {
            "languages": split_list(form.get("languages", "")),
            "shifts": shifts if any(shifts.values()) else None,
        }
        errors = await apply_agent_change(db, page, agent_id, body)
    if not errors:
        return RedirectResponse(f"/settings/assignment#agent-{agent_id}", status_code=303)
    await _agent_or_404(db, page, agent_id)
    context = {"values": {agent_id: form}, "agent_errors": {agent_id: errors}}
    return await _assignment(request, page, db, context, 422)


# Tags


async def _tags(request: Request, page: Page, db: DB, context: dict[str, Any], code: int = 200) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        used = await tag_service.tags_in_use(session)
    return show(request, page, "settings_tags.html", "tags", {"tags": used, **context}, code)


@router.get("/settings/tags", response_class=HTMLResponse)
async def tags_page(request: Request, page: AdminPage, db: DB) -> Response:
    return await _tags(request, page, db, {})


@router.post("/settings/tags/rename", response_class=HTMLResponse)
async def rename_tag(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    old, new = form.get("tag", ""), form.get("new", "")
    try:
        async with db.transaction(page.principal.workspace_id) as session:
            await tag_service.rename_tag(session, old, new)
    except ValueError:
        with speaking(page):
            error = gettext("A tag has 1 to 64 characters.")
        return await _tags(request, page, db, {"failed": old, "error": error, "new": new}, 422)
    return RedirectResponse("/settings/tags", status_code=303)


@router.post("/settings/tags/delete")
async def delete_tag(request: Request, page: AdminWrite, db: DB) -> Response:
    form = await read_form(request)
    async with db.transaction(page.principal.workspace_id) as session:
        await tag_service.delete_tag(session, form.get("tag", ""))
    return RedirectResponse("/settings/tags", status_code=303)


# API tokens


async def _tokens(request: Request, page: Page, db: DB, context: dict[str, Any], code: int = 200) -> Response:
    async with db.transaction(page.principal.workspace_id, readonly=True) as session:
        tokens = await workspaces.list_api_tokens(session)
    response = show(
        request, page, "settings_tokens.html", "tokens", {"tokens": tokens, "values": {}, **context}, code
    )
    response.headers["cache-control"] = "no-store"  # a new token's page must not be kept anywhere
    return response


@router.get("/settings/tokens", response_class=HTMLResponse)
async def tokens_page(request: Request, page: AdminPage, db: DB) -> Response:
    return await _tokens(request, page, db, {})


@router.post("/settings/tokens", response_class=HTMLResponse)
async def create_token(request: Request, page: AdminWrite, db: DB) -> Response:
    """Create a token and show it on this answer, the only time it is ever shown."""
    form = await read_form(request)
    values = {"name": form.get("name", "").strip(), "role": form.get("role", "agent")}
    try:
        body = TokenIn.model_validate(values)
    except ValidationError as exc:
        with speaking(page):
            errors = validation_errors(exc)
        return await _tokens(request, page, db, {"errors": errors, "values": values}, 422)
    async with db.transaction(page.principal.workspace_id) as session:
        row, token = await workspaces.create_api_token(
            session, page.principal.workspace_id, body.name, body.role, page.agent.id
        )
    return await _tokens(
        request, page, db, {"created": {"id": row.id, "name": row.name, "token": token}}, 201
    )


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(token_id: RowId, page: AdminWrite, db: DB) -> Response:
    async with db.transaction(page.principal.workspace_id) as session:
        if not await workspaces.revoke_api_token(session, token_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"token {token_id} not found")
    return RedirectResponse("/settings/tokens", status_code=303)
