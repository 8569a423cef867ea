"""An e-mail channel account's settings: the addresses it receives for, the SMTP server its replies leave
by, and the IMAP mailbox it may poll. Passwords are credentials (``smtp_password``, ``imap_password``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

# "ssl": TLS from the first byte (SMTPS 465, IMAPS 993); "starttls": upgraded after connecting (587, 143);
# "none": plain text, for a server on the same host or network only.
Security = Literal["ssl", "starttls", "none"]


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[EmailStr] = Field(
        min_length=1,
        max_length=20,
        description="Addresses this channel receives for; the first is the From of replies.",
    )
    from_name: str | None = Field(
        None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$", description="Display name on replies."
    )
    smtp_host: str | None = Field(None, max_length=253, description="Outgoing server; no replies if unset.")
    smtp_port: int = Field(587, ge=1, le=65_535)
    smtp_security: Security = "starttls"
    smtp_username: str | None = Field(None, max_length=320, description="Login; none: send unauthenticated.")
    imap_host: str | None = Field(None, max_length=253, description="Mailbox to poll; none: no polling.")
    imap_port: int = Field(993, ge=1, le=65_535)
    imap_security: Security = "ssl"
    imap_username: str | None = Field(None, max_length=320)
    # Printable ASCII without quotes or backslashes: sent quoted as it is (no modified UTF-7 here).
    imap_mailbox: str = Field(
        "INBOX", min_length=1, max_length=200, pattern=r"^[\x20-\x21\x23-\x5b\x5d-\x7e]+$"
    )
    poll_interval_s: int = Field(60, ge=1, le=86_400, description="Seconds between two polls of the mailbox.")

    @property
    def from_address(self) -> str:
        return str(self.addresses[0])
