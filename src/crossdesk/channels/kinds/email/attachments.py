"""Attachments of inbound mail, kept as files: ``<data_dir>/attachments/<workspace>/<sha256>`` (stored
once however often they arrive), and served back to the workspace's agents only, always as a download
(never rendered by the browser: an HTML or SVG attachment is hostile content)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import urllib.parse
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse

from crossdesk.channels.kinds.email.parsing import Attachment
from crossdesk.conversations.schemas import AttachmentIn
from crossdesk.workspaces.deps import CurrentPrincipal

router = APIRouter(tags=["channels"])
ROUTE = "/api/v1/email/attachments"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def folder(data_dir: Path, workspace_id: int) -> Path:
    return data_dir / "attachments" / str(workspace_id)


def _write(directory: Path, digest: str, data: bytes) -> None:
    target = directory / digest
    if target.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: a reader never sees half a file, and two writers of the same content
    # both end with the same bytes.
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, target)


async def store(data_dir: Path, workspace_id: int, attachments: list[Attachment]) -> list[AttachmentIn]:
    """Write the files (off the event loop) and return what the message lists."""
    listed = []
    directory = folder(data_dir, workspace_id)
    for attachment in attachments:
        digest = hashlib.sha256(attachment.data).hexdigest()
        await asyncio.to_thread(_write, directory, digest, attachment.data)
        listed.append(
            AttachmentIn(
                name=attachment.name,
                content_type=attachment.content_type,
                size=len(attachment.data),
                url=f"{ROUTE}/{digest}/{urllib.parse.quote(attachment.name, safe='')}"[:2048],
            )
        )
    return listed


@router.get(ROUTE + "/{digest}/{name}", name="email_attachment", response_class=FileResponse)
async def download(digest: str, name: str, principal: CurrentPrincipal, request: Request) -> FileResponse:
    """An attachment of a mail received by this workspace, as a download."""
    path = folder(request.app.state.settings.data_dir, principal.workspace_id) / digest
    if not _SHA256.match(digest) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "attachment not found")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=name,
        headers={"x-content-type-options": "nosniff", "content-security-policy": "sandbox"},
    )
