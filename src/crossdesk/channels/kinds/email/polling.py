"""Polling IMAP mailboxes (IMAP4rev1, RFC 3501) of e-mail channels that set ``imap_host``, with the
standard library's ``imaplib`` in a worker thread (aioimaplib is GPL-3.0; this project is Apache-2.0).

Each poll reads messages above the mailbox's UID high-water mark (kept per account in
``<data_dir>/email/imap-marks.json`` with the UIDVALIDITY it belongs to: a new UIDVALIDITY starts over),
stores each, flags it ``\\Seen`` and moves the mark past it. Messages are fetched with
``BODY.PEEK[]`` (reading does not flag them) and flagged only once stored, so a crash in between leaves
them to the next poll, where their Message-IDs make them duplicates. A message over the size limit or a
mail bomb is skipped (left unread, logged). A failing mailbox (wrong password, server down) is retried
later with backoff and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import json
import logging
import os
import re
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from crossdesk.channels.adapter import Account, Context, Rejected
from crossdesk.channels.kinds.email import receiving
from crossdesk.channels.kinds.email.config import EmailConfig

log = logging.getLogger(__name__)
TICK_S = 1.0
BATCH = 50  # messages per poll; the rest come with the next polls
MAX_BACKOFF_S = 900
TIMEOUT_S = 30
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class Mark:
    uidvalidity: int
    uid: int


class Marks:
    """The high-water marks, one JSON file (written whole, then renamed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: dict[int, Mark] = {}
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            for key, value in json.loads(path.read_text()).items():
                self.marks[int(key)] = Mark(int(value["uidvalidity"]), int(value["uid"]))

    def get(self, account_id: int) -> Mark | None:
        return self.marks.get(account_id)

    def set(self, account_id: int, mark: Mark) -> None:
        self.marks[account_id] = mark
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {str(k): {"uidvalidity": m.uidvalidity, "uid": m.uid} for k, m in self.marks.items()}
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".marks-")
        with os.fdopen(handle, "w") as out:
            json.dump(data, out)
        os.replace(temp, self.path)


class Mailbox:
    """One IMAP session, used from worker threads one call at a time."""

    def __init__(self, config: EmailConfig, username: str, password: str) -> None:
        assert config.imap_host is not None
        context = ssl.create_default_context()
        if config.imap_security == "ssl":
            self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                config.imap_host, config.imap_port, ssl_context=context, timeout=TIMEOUT_S
            )
        else:
            self.imap = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=TIMEOUT_S)
            if config.imap_security == "starttls":
                self.imap.starttls(context)
        try:
            self.imap.login(username, password)
            _ok(self.imap.select(f'"{config.imap_mailbox}"'))
            _, validity = self.imap.response("UIDVALIDITY")
            self.uidvalidity = int(validity[0])
        except BaseException:
            self.close()
            raise

    def new_uids(self, mark: Mark | None) -> list[tuple[int, int]]:
        """(UID, size) of the messages above the mark, oldest first, at most ``BATCH``."""
        last = mark.uid if mark is not None and mark.uidvalidity == self.uidvalidity else 0
        # "n:*" always matches the newest message, even below n: filtered below.
        found = _ok(self.imap.uid("SEARCH", f"UID {last + 1}:*"))
        uids = sorted(u for u in (int(x) for x in b" ".join(found).split()) if u > last)[:BATCH]
        if not uids:
            return []
        sizes: dict[int, int] = {}
        for line in _lines(_ok(self.imap.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)"))):
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return [(uid, sizes.get(uid, 0)) for uid in uids]

    def fetch(self, uid: int) -> bytes:
        for item in _ok(self.imap.uid("FETCH", str(uid), "(BODY.PEEK[])")):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        raise imaplib.IMAP4.error(f"no body for UID {uid}")

    def flag_seen(self, uid: int) -> None:
        _ok(self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"))

    def close(self) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            self.imap.logout()


def _ok(response: tuple[str, list[Any]]) -> list[Any]:
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP answered {status}")
    return [d for d in data if d is not None]


def _lines(data: list[Any]) -> Iterator[bytes]:
    for item in data:
        yield item[0] if isinstance(item, tuple) else item


class Poller:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.marks = Marks(context.settings.data_dir / "email" / "imap-marks.json")
        self.due: dict[int, float] = {}
        self.failures: dict[int, int] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # the database may hiccup; the next round tries again
                log.exception("imap polling round failed")
            await asyncio.sleep(TICK_S)

    async def round(self) -> None:
        now = time.monotonic()
        due = []
        for account in await self.context.accounts(receiving.KIND):
            config = _polled(account)
            if config is not None and self.due.get(account.id, 0.0) <= now:
                due.append((account, config))
        await asyncio.gather(*(self._poll_safely(account, config) for account, config in due))

    async def _poll_safely(self, account: Account, config: EmailConfig) -> None:
        try:
            await self.poll(account, config)
        except Exception as exc:  # one failing mailbox must not stop the others: back off and go on
            failures = self.failures[account.id] = self.failures.get(account.id, 0) + 1
            delay = min(config.poll_interval_s * 2**failures, MAX_BACKOFF_S)
            self.due[account.id] = time.monotonic() + delay
            log.warning(
                "imap poll failed",
                extra={"account_id": account.id, "error": type(exc).__name__, "retry_in_s": delay},
            )
            return
        self.failures.pop(account.id, None)
        self.due[account.id] = time.monotonic() + config.poll_interval_s

    async def poll(self, account: Account, config: EmailConfig) -> int:
        """Store what is new in the account's mailbox; returns how many messages were stored."""
        username = config.imap_username or config.from_address
        password = account.credentials.get("imap_password", "")
        box = await asyncio.to_thread(Mailbox, config, username, password)
        try:
            return await self._drain(box, account)
        finally:
            await asyncio.to_thread(box.close)

    async def _drain(self, box: Mailbox, account: Account) -> int:
        stored = 0
        limit = self.context.settings.smtp_max_message_bytes
        for uid, size in await asyncio.to_thread(box.new_uids, self.marks.get(account.id)):
            if size > limit:
                log.warning("imap message too large, skipped", extra={"account_id": account.id, "uid": uid})
            elif await self._store(box, account, uid):
                await asyncio.to_thread(box.flag_seen, uid)
                stored += 1
            self.marks.set(account.id, Mark(box.uidvalidity, uid))
        return stored

    async def _store(self, box: Mailbox, account: Account, uid: int) -> bool:
        raw = await asyncio.to_thread(box.fetch, uid)
        try:
            await receiving.deliver(self.context, raw, {account.id: (account, [])})
        except Rejected as exc:
            log.warning(
                "imap message refused, skipped",
                extra={"account_id": account.id, "uid": uid, "reason": str(exc)},
            )
            return False
        return True


def _polled(account: Account) -> EmailConfig | None:
    try:
        config = EmailConfig.model_validate(account.config)
    except ValidationError:
        return None
    return config if config.imap_host else None
