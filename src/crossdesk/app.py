"""ASGI app factory: wires the database, the event bus and the hub, and mounts each domain's router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from crossdesk import __version__
from crossdesk.assistant.routes import router as assistant_router
from crossdesk.assistant.runner import AssistantRunner
from crossdesk.campaigns.routes import public_router as unsubscribe_router
from crossdesk.campaigns.routes import router as campaigns_router
from crossdesk.campaigns.sending import LEASE as CAMPAIGNS_LEASE
from crossdesk.campaigns.sending import CampaignSender
from crossdesk.channels import service as channels
from crossdesk.channels.adapter import Account, Context, Receipt
from crossdesk.channels.outbox import OutboxWorker
from crossdesk.channels.registry import ADAPTERS
from crossdesk.channels.routes import router as channels_router
from crossdesk.commerce.routes import router as commerce_router
from crossdesk.config import Settings, get_settings
from crossdesk.conversations import service as conversations
from crossdesk.conversations.bulk_routes import router as bulk_router
from crossdesk.conversations.ingest import Ingestor
from crossdesk.conversations.macro_routes import router as macros_router
from crossdesk.conversations.routes import router as conversations_router
from crossdesk.customers.routes import router as customers_router
from crossdesk.db import Database
from crossdesk.ops import leases
from crossdesk.ops.middleware import BodyLimit, RequestMetrics
from crossdesk.ops.routes import router as ops_router
from crossdesk.realtime import service as events
from crossdesk.realtime.bus import make_bus
from crossdesk.realtime.hub import Hub
from crossdesk.realtime.routes import router as realtime_router
from crossdesk.reports.routes import router as reports_router
from crossdesk.retention.recommend import RecommendationCache
from crossdesk.retention.routes import router as retention_router
from crossdesk.retention.segments import SegmentCache
from crossdesk.web import (
    campaigns_page,
    channel_settings,
    conversation_page,
    customers_page,
    inbox,
    macros_page,
    reports_page,
    settings_pages,
    sidebar,
)
from crossdesk.web.routes import router as web_router
from crossdesk.web.shell import LoginRequired, to_login
from crossdesk.workspaces import service as workspaces
from crossdesk.workspaces.routes import router as workspaces_router

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600


def _hub_for(db: Database, retention: int) -> Hub:
    async def fetch(workspace_id: int, after: int, upto: int) -> list[dict[str, Any]]:
        async with db.transaction(workspace_id, readonly=True) as session:
            return await events.events_after(session, after, upto - after, upto)

    async def head(workspace_id: int) -> tuple[int, int | None]:
        async with db.transaction(workspace_id, readonly=True) as session:
            return await workspaces.current_event_seq(session, workspace_id), await events.oldest_seq(session)

    return Hub(fetch, head, retention)


async def _prune_forever(db: Database, keep: int) -> None:
    while True:
        async with db.transaction(system=True, readonly=True) as session:
            ids = await workspaces.all_workspace_ids(session)
        for workspace_id in ids:
            async with db.transaction(workspace_id) as session:
                await events.prune(session, keep)
        await asyncio.sleep(PRUNE_EVERY_S)


def _queued_reply(event: dict[str, Any]) -> bool:
    return event["type"] == "message.created" and bool(
        event["data"]["message"].get("delivery_state") == "queued"
    )


def _channel_context(db: Database, settings: Settings, ingestor: Ingestor) -> Context:
    async def receipts(account: Account, found: list[Receipt]) -> None:
        async with db.transaction(account.workspace_id) as session:
            await conversations.apply_receipts(session, ADAPTERS[account.kind].channel, found)

    async def accounts(kind: str) -> list[Account]:
        async with db.transaction(system=True, readonly=True) as session:
            return await channels.active_accounts(session, kind)

    return Context(db, settings, ingestor.submit, receipts, accounts)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    """A service's NotFound (an id unknown in the caller's workspace) is a 404, from any route."""
    return JSONResponse({"detail": str(exc)}, status_code=404)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.effective_database_url)
        bus = make_bus(settings.redis_url)
        hub = _hub_for(db, settings.event_retention)
        await bus.start(hub)
        worker = OutboxWorker(db, conversations.outbound_payload, conversations.set_delivery_state)
        app.state.segments, app.state.recommendations = SegmentCache(), RecommendationCache()
        assistant = AssistantRunner(
            db, segments=app.state.segments, recommendations=app.state.recommendations
        )

        async def publish(committed: list[dict[str, Any]]) -> None:
            await bus.publish(committed)
            if any(_queued_reply(e) for e in committed):
                worker.wake()
            if settings.assistant_enabled:
                assistant.notice(committed)

        db.publish = publish
        app.state.db, app.state.bus, app.state.hub, app.state.settings = db, bus, hub, settings
        sender = asyncio.create_task(worker.run())
        assisting = asyncio.create_task(assistant.run())
        # SQLite has one writer per process anyway; PostgreSQL takes a few batches at once.
        app.state.ingestor = Ingestor(db, runners=1 if db.is_sqlite else 4, segments=app.state.segments)
        app.state.channels = channels.Directory(db)
        context = _channel_context(db, settings, app.state.ingestor)
        app.state.channel_context = context
        # Each channel service runs in one process of the deployment: the holder of its lease.
        services = [
            asyncio.create_task(leases.run_while_held(db, s.name, s.run))
            for a in ADAPTERS.values()
            for s in a.services(context)
        ]
        campaign_sender = CampaignSender(db, settings, app.state.recommendations)
        services.append(asyncio.create_task(leases.run_while_held(db, CAMPAIGNS_LEASE, campaign_sender.run)))
        # Keep far more than a reconnecting client may replay, for audit and the HTTP event feed.
        pruner = asyncio.create_task(_prune_forever(db, settings.event_retention * 20))
        try:
            yield
        finally:
            for task in (pruner, sender, assisting, *services):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.ingestor.close()
            await worker.close()
            await bus.close()
            await db.dispose()

    app = FastAPI(title="crossdesk", version=__version__, lifespan=lifespan)
    app.add_exception_handler(conversations.NotFound, _not_found)
    app.add_exception_handler(LoginRequired, to_login)
    # Matching walks the routers in this order: the webhook firehose first.
    for router in (
        channels_router,
        bulk_router,
        conversations_router,
        macros_router,
        realtime_router,
        ops_router,
        workspaces_router,
        customers_router,
        commerce_router,
        retention_router,
        reports_router,
        campaigns_router,
        assistant_router,
        unsubscribe_router,
        web_router,
        *(
            m.router
            for m in (
                inbox,
                conversation_page,
                sidebar,
                macros_page,
                settings_pages,
                channel_settings,
                customers_page,
                reports_page,
                campaigns_page,
            )
        ),
        *(a.router for a in ADAPTERS.values() if a.router is not None),
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    # Ours rather than FastAPI's max_body_size, which answers an oversize Content-Length in plain text.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    return app
