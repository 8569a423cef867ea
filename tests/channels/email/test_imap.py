"""IMAP polling against a real Dovecot on loopback (Debian's ``dovecot-imapd``, run by the test with its
own configuration on a free port; mail reaches its Maildir by IMAP APPEND): new mail is stored once,
flagged \\Seen, the UID high-water mark moves on, and a failing mailbox does not stop the others."""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.channels.email.conftest import (
    MailServer,
    conversations,
    create_account,
    detail,
    mail,
    unique_address,
)
from tests.conftest import Tenant, free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_UID = 65534  # nobody: Dovecot refuses to run mail processes as root
CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    """A running Dovecot and its mailbox users. The users are all written before it starts: it re-reads
    its passwd file at most once a second, so a user added later may not log in at once."""

    root: Path
    port: int
    users: list[tuple[str, str]]

    def add_user(self) -> tuple[str, str]:
        return self.users.pop()

    def session(self, user: str, password: str) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(user, password)
        imap.select("INBOX")
        return imap

    def append(self, user: str, password: str, raw: bytes) -> None:
        imap = self.session(user, password)
        try:
            assert imap.append("INBOX", None, None, raw)[0] == "OK"
        finally:
            imap.logout()

    def flags(self, user: str, password: str) -> list[bytes]:
        imap = self.session(user, password)
        try:
            _, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            return [d for d in data if isinstance(d, bytes)]
        finally:
            imap.logout()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip("Dovecot is not installed (apt-get install -y dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("this Dovecot set-up runs as root (its mail processes as nobody), as on these machines")
    root = Path(tempfile.mkdtemp(prefix="crossdesk-dovecot-"))
    root.chmod(0o755)  # the mail processes (nobody) reach their homes through it
    for name in ("run", "state", "home"):
        (root / name).mkdir()
    users = [(f"shop{uuid.uuid4().hex[:8]}", uuid.uuid4().hex) for _ in range(8)]
    (root / "passwd").write_text("".join(f"{user}:{{PLAIN}}{password}\n" for user, password in users))
    for user, _ in users:
        (root / "home" / user).mkdir()
        os.chown(root / "home" / user, MAIL_UID, MAIL_UID)
    port = free_port()
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, uid=MAIL_UID, port=port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")])
    try:
        _wait_for(port)
        yield Dovecot(root, port, users)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            imaplib.IMAP4("127.0.0.1", port, timeout=1).logout()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _imap_config(dovecot: Dovecot, user: str, password: str) -> dict[str, object]:
    return {
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_security": "none",
        "imap_username": user,
        "poll_interval_s": 1,
        "credentials": {"imap_password": password},
    }


async def _wait_for_messages(tenant: Tenant, count: int, limit_s: float = 15) -> list[str]:
    texts: list[str] = []
    for _ in range(int(limit_s / 0.1)):
        texts = [
            m["text"]
            for c in await conversations(tenant)
            for m in (await detail(tenant, c["id"]))["messages"]
        ]
        if len(texts) >= count:
            break
        await asyncio.sleep(0.1)
    return texts


async def test_new_mail_is_polled_stored_once_and_flagged_seen(
    shop: Tenant, mail_server: MailServer, dovecot: Dovecot
) -> None:
    user, password = dovecot.add_user()
    await asyncio.to_thread(
        dovecot.append, user, password, mail("First by IMAP", sender="Eve <eve@example.com>")
    )
    await create_account(shop, unique_address(), **_imap_config(dovecot, user, password))
    assert await _wait_for_messages(shop, 1) == ["First by IMAP"]
    flags = await asyncio.to_thread(dovecot.flags, user, password)
    assert len(flags) == 1 and b"\\Seen" in flags[0]
    # A later mail is picked up above the high-water mark; the first is not stored again.
    await asyncio.to_thread(
        dovecot.append, user, password, mail("Second by IMAP", sender="Eve <eve@example.com>")
    )
    assert sorted(await _wait_for_messages(shop, 2)) == ["First by IMAP", "Second by IMAP"]
    await asyncio.sleep(2.5)  # two more polls
    assert len(await _wait_for_messages(shop, 3, limit_s=0.1)) == 2


async def test_a_failing_mailbox_does_not_stop_the_others(
    shop: Tenant, other_shop: Tenant, mail_server: MailServer, dovecot: Dovecot
) -> None:
    user, password = dovecot.add_user()
    broken = _imap_config(dovecot, user, "not-the-password")
    await create_account(other_shop, unique_address(), **broken)
    closed = {**_imap_config(dovecot, user, password), "imap_port": free_port()}  # nothing listens there
    await create_account(other_shop, unique_address(), **closed)
    good_user, good_password = dovecot.add_user()
    await asyncio.to_thread(
        dovecot.append, good_user, good_password, mail("Still arrives", sender="Max <max@example.com>")
    )
    await create_account(shop, unique_address(), **_imap_config(dovecot, good_user, good_password))
    assert await _wait_for_messages(shop, 1) == ["Still arrives"]
    assert await conversations(other_shop) == []


async def test_a_mail_bomb_in_the_mailbox_is_skipped_and_left_unread(
    shop: Tenant, mail_server: MailServer, dovecot: Dovecot
) -> None:
    user, password = dovecot.add_user()
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(500))
    bomb = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n"
    await asyncio.to_thread(dovecot.append, user, password, bomb)
    await asyncio.to_thread(
        dovecot.append, user, password, mail("After the bomb", sender="Ivy <ivy@example.com>")
    )
    await create_account(shop, unique_address(), **_imap_config(dovecot, user, password))
    assert await _wait_for_messages(shop, 1) == ["After the bomb"]
    flags = await asyncio.to_thread(dovecot.flags, user, password)
    assert b"\\Seen" not in flags[0] and b"\\Seen" in flags[1]
