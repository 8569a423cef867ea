"""The reports API: a period's figures as JSON, and each of its tables as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from crossdesk.db import Database, utcnow
from crossdesk.ops.spreadsheets import formula_safe
from crossdesk.reports import service
from crossdesk.reports.schemas import ReportOut
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.deps import DB, CurrentPrincipal
from crossdesk.workspaces.service import Principal

router = APIRouter(prefix="/api/v1", tags=["reports"])

FromDay = Annotated[
    dt.date | None, Query(alias="from", description="First day (YYYY-MM-DD); default: 6 days before `to`.")
]
ToDay = Annotated[dt.date | None, Query(alias="to", description="Last day, included; default: today.")]
Zone = Annotated[
    str | None,
    Query(
        max_length=64, description="IANA zone of the days and hours; default: the agent's (or workspace's)."
    ),
]
Table = Literal["by_day", "by_channel", "by_language", "by_hour", "by_agent"]


async def report_for(
    db: Database, principal: Principal, first: dt.date | None, last: dt.date | None, tz: str | None
) -> ReportOut:
    """The caller's workspace report; 422 with the reason for a period or zone that is not valid."""
    now = utcnow()
    async with db.transaction(principal.workspace_id, readonly=True) as session:
        workspace = await workspaces.get_workspace(session, principal.workspace_id)
        if tz is None:
            agent = await workspaces.get_agent(session, principal.agent_id) if principal.agent_id else None
            tz = agent.timezone if agent is not None else workspace.timezone
        try:
            period = service.requested_period(first, last, tz, now)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        return await service.build_report(session, period, now, workspace)


@router.get("/reports", response_model=ReportOut)
async def read_report(
    principal: CurrentPrincipal, db: DB, first: FromDay = None, last: ToDay = None, tz: Zone = None
) -> ReportOut:
    """Volume, first response and resolution times (seconds, calendar time), SLA attainment, backlog and
    per-agent figures for the days ``from`` to ``to`` (included) in zone ``tz``; at most 366 days."""
    return await report_for(db, principal, first, last, tz)


@router.get("/reports.csv", response_class=Response)
async def export_report_table(
    principal: CurrentPrincipal,
    db: DB,
    table: Table,
    first: FromDay = None,
    last: ToDay = None,
    tz: Zone = None,
) -> Response:
    """One table of the report as CSV; text cells a spreadsheet could run as formulas are quoted."""
    report = await report_for(db, principal, first, last, tz)
    header, rows = service.table(report, table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    name = f"crossdesk-{table}-{report.period.first_day}-{report.period.last_day}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return formula_safe(value) if isinstance(value, str) else value
