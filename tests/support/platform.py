"""A platform's API on loopback, for channel tests: a Starlette app under a real uvicorn server that records
every request it gets, so a test can check what crossdesk sent (headers, body) and the app can answer as
the platform documents (and check what the platform would check)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import LiveServer


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Request, bytes], Awaitable[Response]]


class FakePlatform:
    """``routes`` maps (method, path) to a handler ``(request, body) -> Response``; ``seen`` lists every
    request in arrival order (answered or not)."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.seen: list[Seen] = []
        self.url = ""

        def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def run(request: Request) -> Response:
                body = await request.body()
                self.seen.append(
                    Seen(
                        request.method,
                        request.url.path,
                        dict(request.query_params),
                        {k.lower(): v for k, v in request.headers.items()},
                        body,
                    )
                )
                return await handler(request, body)

            return run

        self.app = Starlette(
            routes=[Route(path, endpoint(h), methods=[method]) for (method, path), h in routes.items()]
        )

    @contextmanager
    def running(self) -> Iterator[FakePlatform]:
        with LiveServer(None, app=self.app) as live:
            self.url = live.url
            yield self

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]
