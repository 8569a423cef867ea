"""Reading one raw e-mail (RFC 5322 and MIME, RFC 2045-2049) into the parts a helpdesk needs, with the
standard library's parser (``policy.default``) behind limits that keep hostile mail cheap.

The stdlib parser is fine on honest mail but not on bombs: it recurses per nesting level (RecursionError
near 1,000 levels), spends about 0.25 ms per MIME part (100,000 parts: 20 s), and parses long address or
encoded-word headers in quadratic time (a 280 kB Subject: 5 s). So parts are counted while the parser
builds them and it stops at ``MAX_PARTS``; nesting is bounded by ``MAX_DEPTH``; header values are capped
before they are parsed. A message over these limits is refused whole (``TooComplex``): the SMTP receiver
answers 552. Text and attachments beyond what a message may carry are cut, with a note saying so.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import hashlib
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError, MessageError
from email.headerregistry import AddressHeader, BaseHeader
from email.message import EmailMessage
from email.parser import BytesFeedParser

from crossdesk.channels.adapter import Malformed, Rejected
from crossdesk.channels.kinds.email.htmltext import html_to_text, sanitize_html
from crossdesk.customers.identities import InvalidIdentity, normalize_email

MAX_PARTS = 100  # MIME parts, containers included
MAX_DEPTH = 10  # multipart nesting
MAX_HEADER_CHARS = 16_000  # one header's value is parsed up to here
MAX_ATTACHMENTS = 20  # InboundMessage's limit; later ones are dropped with a note
MAX_BODY_CHARS = 1_000_000  # text kept for trimming; the stored text is cut much shorter anyway
MAX_HTML_CHARS = 2_000_000  # HTML converted to text
MAX_KEPT_HTML_CHARS = 100_000  # sanitised HTML kept for display
MAX_ID_CHARS = 300  # Message-IDs longer than this are replaced by a digest (the column holds 320)
MAX_REFERENCES = 50
# Errors the stdlib raises on hostile headers and payloads (its header parser also recurses per comment).
HOSTILE_ERRORS = (
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    AssertionError,
    UnicodeError,
    RecursionError,
    HeaderParseError,
    MessageError,
)
_MSG_ID = re.compile(r"<([^<>\s]{1,998})>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


class TooComplex(Rejected):
    """A message over the size, part or nesting limits (a mail bomb, or close enough)."""

    status = 413


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class Mail:
    message_id: str  # without angle brackets
    sender: str  # normalised address
    sender_name: str | None
    reply_to: str | None
    recipients: list[str]  # To, Cc, Delivered-To and X-Original-To addresses, as written
    subject: str | None
    sent_at: dt.datetime | None
    in_reply_to: list[str]
    references: list[str]  # as the header lists them: oldest first
    text: str  # the body as text (the plain part, else the HTML part converted), untrimmed
    html: str | None  # the HTML part, sanitised, when it is small enough to keep
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was cut or dropped, for the agent to see


def clean(text: str) -> str:
    """Text as the database takes it: raw 8-bit header bytes decoded as UTF-8 where they are, other
    lone surrogates and control characters (NUL above all) gone, line ends as ``\\n``."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def parse(raw: bytes) -> Mail:
    """Read a raw message; raise TooComplex for a bomb and Malformed for mail without a usable sender."""
    message = _parse_bounded(raw)
    sender_name, sender = _sender(message)
    text_parts: list[str] = []
    html: str | None = None
    attachments: list[Attachment] = []
    notes: list[str] = []
    for part in _leaves(message, 0):
        kind = _body_kind(part)
        if kind == "text/plain":
            text_parts.append(_decoded(part))
        elif kind == "text/html" and html is None:
            html = _decoded(part)
        elif (attachment := _attachment(part, len(attachments))) is not None:
            attachments.append(attachment)
    if len(attachments) > MAX_ATTACHMENTS:
        notes.append(f"{len(attachments) - MAX_ATTACHMENTS} more attachments were dropped")
        attachments = attachments[:MAX_ATTACHMENTS]
    text, kept_html = _text_and_html(text_parts, html, notes)
    reply_to = _addresses(message, "reply-to")
    return Mail(
        message_id=_message_id(message, raw),
        sender=sender,
        sender_name=sender_name,
        reply_to=_valid(reply_to[0][1]) if reply_to else None,
        recipients=[
            address
            for name in ("to", "cc", "delivered-to", "x-original-to")
            for _, address in _addresses(message, name)
        ],
        subject=_subject(message),
        sent_at=_date(message),
        in_reply_to=_ids(_raw(message, "in-reply-to")),
        references=_ids(_raw(message, "references")),
        text=text,
        html=kept_html,
        attachments=attachments,
        notes=notes,
    )


def _parse_bounded(raw: bytes) -> EmailMessage:
    count = 0

    def counted() -> EmailMessage:  # called by the parser for every part it opens
        nonlocal count
        count += 1
        if count > MAX_PARTS:
            raise TooComplex(f"message has more than {MAX_PARTS} MIME parts")
        return EmailMessage()  # the parser sets its policy

    parser = BytesFeedParser(_factory=counted, policy=policy.default)
    try:
        parser.feed(raw)
        message = parser.close()
    except HOSTILE_ERRORS as exc:
        raise Malformed("message cannot be parsed") from exc
    if not isinstance(message, EmailMessage):
        raise Malformed("message cannot be parsed")
    return message


def _leaves(part: EmailMessage, depth: int) -> Iterator[EmailMessage]:
    if depth > MAX_DEPTH:
        raise TooComplex(f"MIME parts nested deeper than {MAX_DEPTH}")
    if _content_type(part).startswith("multipart/") and part.is_multipart():
        for sub in part.iter_parts():
            if isinstance(sub, EmailMessage):
                yield from _leaves(sub, depth + 1)
    else:
        yield part


def _raw(part: EmailMessage, name: str) -> str | None:
    """A header's unparsed value (unfolded, capped): parsed values of long headers cost quadratic time."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return "".join(str(value)[:MAX_HEADER_CHARS].splitlines())
    return None


def _header(part: EmailMessage, name: str) -> BaseHeader | None:
    value = _raw(part, name)
    if value is None:
        return None
    try:
        header = policy.default.header_factory(name, value)
    except HOSTILE_ERRORS:
        return None
    return header if isinstance(header, BaseHeader) else None


def _content_type(part: EmailMessage) -> str:
    header = _header(part, "content-type")
    try:
        return str(getattr(header, "content_type", "text/plain")).lower()
    except HOSTILE_ERRORS:
        return "text/plain"


def _param(part: EmailMessage, header_name: str, param: str) -> str | None:
    header = _header(part, header_name)
    try:
        value = getattr(header, "params", {}).get(param)
    except HOSTILE_ERRORS:
        return None
    return clean(str(value)) if value else None


def _body_kind(part: EmailMessage) -> str | None:
    """``text/plain`` or ``text/html`` for a part that is the message's body, None for an attachment."""
    kind = _content_type(part)
    disposition = _header(part, "content-disposition")
    if kind not in ("text/plain", "text/html") or _param(part, "content-disposition", "filename"):
        return None
    if _param(part, "content-type", "name"):
        return None
    return kind if str(getattr(disposition, "content_disposition", "inline")) != "attachment" else None


def _payload(part: EmailMessage) -> bytes:
    try:
        if part.is_multipart():  # message/rfc822 and kin: the enclosed message, as sent
            inner = part.get_payload(0)
            return inner.as_bytes() if isinstance(inner, EmailMessage) else b""
        data = part.get_payload(decode=True)
    except HOSTILE_ERRORS:
        return b""
    return data if isinstance(data, bytes) else b""


def _decoded(part: EmailMessage) -> str:
    """A text part's content; a broken or unknown charset costs a few replacement characters, no more."""
    data = _payload(part)
    charset = _param(part, "content-type", "charset") or "utf-8"
    try:
        info = codecs.lookup(charset)
        if not getattr(info, "_is_text_encoding", True) or info.name == "undefined":
            raise LookupError(charset)
        return clean(data.decode(info.name, "replace"))
    except (LookupError, UnicodeError):
        return clean(data.decode("utf-8", "replace"))


def _attachment(part: EmailMessage, index: int) -> Attachment | None:
    data = _payload(part)
    if not data:
        return None
    kind = _content_type(part)
    name = _param(part, "content-disposition", "filename") or _param(part, "content-type", "name")
    if not name:
        name = f"part-{index + 1}{mimetypes.guess_extension(kind) or '.bin'}"
    # A file name is shown and offered on download: no path, no control characters, a sane length.
    name = re.sub(r"[\\/]", "_", name).strip()[:200] or "attachment"
    return Attachment(name=name, content_type=kind[:255], data=data)


def _text_and_html(text_parts: list[str], html: str | None, notes: list[str]) -> tuple[str, str | None]:
    text = "\n".join(text_parts)
    if not text.strip() and html:
        if len(html) > MAX_HTML_CHARS:
            notes.append("the HTML body was too long and was cut before conversion")
        text = clean(html_to_text(html[:MAX_HTML_CHARS]))
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS]
    kept = None
    if html:
        kept = sanitize_html(html[:MAX_HTML_CHARS])
        if len(kept) > MAX_KEPT_HTML_CHARS:
            notes.append("the HTML version was too long to keep; the text is shown")
            kept = None
    return text, kept


def _addresses(part: EmailMessage, name: str) -> list[tuple[str | None, str]]:
    header = _header(part, name)
    if not isinstance(header, AddressHeader):
        return []
    try:
        found = [(a.display_name or None, a.addr_spec) for a in header.addresses]
    except HOSTILE_ERRORS:
        return []
    return [(clean(n) if n else None, clean(a)) for n, a in found if a]


def _valid(address: str) -> str | None:
    try:
        return normalize_email(address)
    except InvalidIdentity:
        return None


def _sender(message: EmailMessage) -> tuple[str | None, str]:
    for name, address in _addresses(message, "from"):
        valid = _valid(address)
        if valid is not None:
            return (name[:200] if name else None), valid
    raise Malformed("message has no valid From address")


def _subject(message: EmailMessage) -> str | None:
    header = _header(message, "subject")
    subject = " ".join(clean(str(header)).split()) if header is not None else ""
    return subject[:500] or None


def _date(message: EmailMessage) -> dt.datetime | None:
    """The Date header, if it is a plausible moment (not before 1990, not more than a day ahead)."""
    value = _raw(message, "date")
    try:
        moment = email.utils.parsedate_to_datetime(value) if value else None
    except HOSTILE_ERRORS:
        return None
    if moment is None:
        return None
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return moment if EARLIEST <= moment <= dt.datetime.now(dt.UTC) + dt.timedelta(days=1) else None


def normalize_id(value: str) -> str:
    """A Message-ID as stored: no brackets, and short enough for the column (a digest of a longer one)."""
    value = clean(value.strip().strip("<>"))
    if len(value) <= MAX_ID_CHARS:
        return value
    return "sha256-" + hashlib.sha256(value.encode()).hexdigest() + "@crossdesk.invalid"


def _ids(value: str | None) -> list[str]:
    return [normalize_id(found) for found in _MSG_ID.findall(value or "")][-MAX_REFERENCES:]


def _message_id(message: EmailMessage, raw: bytes) -> str:
    found = _ids(_raw(message, "message-id"))
    if found and found[0]:
        return found[0]
    # No Message-ID: the same bytes delivered twice are still stored once.
    return f"sha256-{hashlib.sha256(raw).hexdigest()}@crossdesk.invalid"
