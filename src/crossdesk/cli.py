"""The ``crossdesk`` command: serve, migrate, demo, workspaces, users, imports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from crossdesk.config import Settings, get_settings
from crossdesk.db import Database, migrate

app = typer.Typer(help="crossdesk: answer every buyer on every channel, in real time.", no_args_is_help=True)
workspace_app = typer.Typer(help="Manage workspaces (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Manage agents.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(user_app, name="user")
assistant_app = typer.Typer(help="The offline assistant: retrain and measure it.", no_args_is_help=True)
app.add_typer(assistant_app, name="assistant")
console = Console()
T = TypeVar("T")
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option(help="Data folder (default: $CROSSDESK_DATA_DIR or ./crossdesk-data).")
]


def _settings(data_dir: Path | None = None) -> Settings:
    if data_dir is not None:
        # Environment, so that uvicorn's worker processes see the same setting.
        os.environ["CROSSDESK_DATA_DIR"] = str(data_dir.resolve())
        get_settings.cache_clear()
    return get_settings()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@app.command("migrate")
def migrate_command(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(data_dir)
    migrate(settings.effective_database_url)
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes; >1 needs CROSSDESK_REDIS_URL.")] = 1,
    data_dir: DataDir = None,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Skip the schema upgrade at start.")
    ] = False,
) -> None:
    """Serve the web app and API (uvicorn, WebSockets via websockets-sansio)."""
    import uvicorn

    from crossdesk.ops.logs import configure

    settings = _settings(data_dir)
    if workers > 1 and not settings.redis_url:
        raise _fail("several workers need CROSSDESK_REDIS_URL, or agents would miss other workers' events")
    if workers > 1 and settings.effective_database_url.startswith("sqlite"):
        raise _fail("several workers need PostgreSQL (CROSSDESK_DATABASE_URL): SQLite has one writer")
    if not no_migrate:
        migrate(settings.effective_database_url)
    configure(settings.log_level)
    uvicorn.run(
        "crossdesk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws="websockets-sansio",
        log_config=None,
        proxy_headers=True,
    )


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database(settings.effective_database_url)
    try:
        return await work(db)
    finally:
        await db.dispose()


@workspace_app.command("create")
def workspace_create(
    name: str,
    currency: Annotated[str, typer.Option(help="Base currency (ISO 4217).")] = "USD",
    timezone: Annotated[str, typer.Option(help="The team's time zone.")] = "Asia/Shanghai",
    data_dir: DataDir = None,
) -> None:
    """Create a workspace and print its slug."""
    from crossdesk.workspaces import service

    settings = _settings(data_dir)
    migrate(settings.effective_database_url)

    async def work(db: Database) -> str:
        async with db.transaction(system=True) as session:
            ws = await service.create_workspace(
                session, name, base_currency=currency.upper(), timezone=timezone
            )
            return ws.slug

    console.print(asyncio.run(_with_db(settings, work)))


@user_app.command("create")
def user_create(
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[Literal["owner", "admin", "agent"], typer.Option()] = "agent",
    language: Annotated[Literal["en", "zh-CN"], typer.Option()] = "en",
    timezone: Annotated[str, typer.Option()] = "UTC",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    data_dir: DataDir = None,
) -> None:
    """Create an agent in a workspace (the password is asked for, never echoed)."""
    from crossdesk.workspaces import service

    settings = _settings(data_dir)

    async def work(db: Database) -> int:
        async with db.transaction(system=True) as session:
            ws = await service.workspace_by_slug(session, workspace)
            if ws is None:
                raise _fail(f"no workspace {workspace!r}")
            try:
                agent = await service.create_agent(
                    session,
                    ws.id,
                    email=email,
                    name=name,
                    password=password,
                    role=role,
                    language=language,
                    timezone=timezone,
                )
            except ValueError as exc:
                raise _fail(str(exc)) from exc
            return agent.id

    agent_id = asyncio.run(_with_db(settings, work))
    console.print(f"agent {agent_id} created")


@app.command("import")
def import_command(
    kind: Annotated[Literal["products", "orders"], typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: Annotated[str, typer.Option(help="Workspace slug.")],
    data_dir: DataDir = None,
) -> None:
    """Import products or orders from CSV or JSON: every row valid, or nothing stored."""
    from crossdesk.commerce import importer
    from crossdesk.commerce import service as commerce
    from crossdesk.workspaces import service

    settings = _settings(data_dir)
    try:
        rows = importer.parse(kind, file.read_bytes(), file.name)
    except importer.ImportFailed as exc:
        for e in exc.errors:
            err.print(f"row {e.row}, {e.field}: {e.message}")
        raise _fail(f"{len(exc.errors)} error(s); nothing imported") from exc

    async def work(db: Database) -> tuple[int, int]:
        async with db.transaction(system=True) as session:
            ws = await service.workspace_by_slug(session, workspace)
        if ws is None:
            raise _fail(f"no workspace {workspace!r}")
        created = updated = 0
        with Progress(console=console) as progress:
            task = progress.add_task(f"importing {kind}", total=len(rows))
            async with db.transaction(ws.id) as session:
                for start in range(0, len(rows), 500):
                    chunk = rows[start : start + 500]
                    c, u = await commerce.upsert_rows(session, chunk)
                    created, updated = created + c, updated + u
                    progress.advance(task, len(chunk))
        return created, updated

    created, updated = asyncio.run(_with_db(settings, work))
    console.print(f"{kind}: {created} created, {updated} updated")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its database.")] = Path(
        "crossdesk-demo"
    ),
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server after loading.")
    ] = True,
    customers: Annotated[int, typer.Option(min=10, max=5000, help="How many real customers to load.")] = 1500,
) -> None:
    """Create a data folder, load a demo workspace built from real retail data, and serve it."""
    from crossdesk.demo.builder import DEMO_EMAIL, DEMO_PASSWORD, build

    settings = _settings(data_dir)
    migrate(settings.effective_database_url)
    summary = asyncio.run(_with_db(settings, lambda db: build(db, customers=customers, console=console)))
    console.print(summary)
    console.print(
        f"\n[bold]crossdesk demo[/bold] at http://{host}:{port}/  login: {DEMO_EMAIL} / {DEMO_PASSWORD}"
    )
    if serve_after:
        serve(host=host, port=port, workers=1, data_dir=data_dir, no_migrate=True)


@assistant_app.command("train")
def assistant_train() -> None:
    """Retrain the intent model from the shipped data (deterministic) and write it into the package."""
    from crossdesk.assistant import intents

    with Progress(console=console) as progress:
        task = progress.add_task("embedding the training examples", total=None)
        model = intents.train(lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"{len(model.labels)} intents -> {intents.MODEL_PATH}")


@assistant_app.command("eval")
def assistant_eval(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or JSON Lines.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON object of the figures.")] = False,
) -> None:
    """Score language and intent on a labelled file; print accuracy, top errors, latency and memory."""
    import json

    from crossdesk.assistant import eval as evaluation

    try:
        cases = evaluation.load_cases(file)
    except evaluation.BadFile as exc:
        raise _fail(str(exc)) from exc
    figures = evaluation.evaluate(cases)
    for line in evaluation.report_lines(figures):
        console.print(line, markup=False, highlight=False)
    if as_json:
        print(json.dumps(figures))
