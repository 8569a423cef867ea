"""The mail parser on its own: hostile structures, charsets and headers give a clean result or a clean
refusal (a Rejected), never another exception, and cheaply; fuzzed with hypothesis."""

from __future__ import annotations

import contextlib
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossdesk.channels.adapter import Account, Rejected
from crossdesk.channels.kinds.email import inbound, quotes, tokens
from crossdesk.channels.kinds.email.parsing import MAX_ID_CHARS, Mail, TooComplex, parse
from crossdesk.conversations.schemas import MAX_TEXT
from tests.channels.email.conftest import fixture

ACCOUNT = Account(
    id=1,
    workspace_id=1,
    kind="email",
    public_id="pub",
    secret="account-secret",
    config={"addresses": ["support@shop.example"]},
    credentials={},
)


def _checked(mail: Mail) -> Mail:
    """What every parsed mail must satisfy for the database and the inbox."""
    for text in (mail.text, mail.subject or "", mail.sender_name or "", mail.html or "", *mail.recipients):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    assert 0 < len(mail.message_id) <= MAX_ID_CHARS + 60
    assert all(len(r) <= MAX_ID_CHARS + 60 for r in [*mail.in_reply_to, *mail.references])
    assert mail.sent_at is None or mail.sent_at.tzinfo is not None
    return mail


def test_a_broken_charset_costs_replacement_characters_only() -> None:
    raw = (
        b"From: =?x-unknown?q?M=FCller?= <m@example.de>\r\nSubject: =?utf-8?b?////?=\r\n"
        b"Content-Type: text/plain; charset=rot13\r\n\r\nGr\xfc\xdfe \x00 aus Berlin\xff\r\n"
    )
    mail = _checked(parse(raw))
    assert mail.sender == "m@example.de"
    assert mail.text.startswith("Gr") and "aus Berlin" in mail.text


@pytest.mark.parametrize("charset", ["utf-7", "undefined", "base64", "no-such-charset", "hex"])
def test_odd_charsets_decode_or_fall_back_to_utf8(charset: str) -> None:
    raw = (
        f"From: a@example.com\r\nContent-Type: text/plain; charset={charset}\r\n\r\nplain words\r\n".encode()
    )
    assert "plain words" in _checked(parse(raw)).text


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    raw = "From: Zoë Ünal <zoe@example.com>\r\nSubject: Größe ändern\r\n\r\nbitte\r\n".encode()
    mail = _checked(parse(raw))
    assert mail.sender_name == "Zoë Ünal" and mail.subject == "Größe ändern"


def test_references_are_in_reply_to_then_references_newest_first_then_the_token() -> None:
    secret = ACCOUNT.secret
    plus = tokens.plus_address("support@shop.example", tokens.token(secret, 77))
    raw = (
        f"From: a@example.com\r\nTo: {plus}\r\nIn-Reply-To: <c@x>\r\n"
        "References: <a@x> <b@x>\r\n  <c@x>\r\n\r\nhi\r\n"
    ).encode()
    refs = inbound.references(parse(raw), ACCOUNT, [])
    assert refs == ["c@x", "b@x", "a@x", tokens.our_message_id(secret, 77, "support@shop.example")]


def test_a_token_signed_with_another_secret_is_ignored() -> None:
    plus = tokens.plus_address("support@shop.example", tokens.token("other-secret", 77))
    assert tokens.referenced_id(ACCOUNT.secret, plus) is None
    assert tokens.referenced_id(ACCOUNT.secret, "support+r77@shop.example") is None


async def test_long_text_is_cut_with_a_note(tmp_path: Path) -> None:
    raw = b"From: a@example.com\r\nSubject: long\r\n\r\n" + b"word " * 10_000
    message = await inbound.message(parse(raw), ACCOUNT, tmp_path)
    assert len(message.text) <= MAX_TEXT
    assert message.text.endswith("[… the message was longer and was cut here]")


async def test_more_than_twenty_attachments_are_listed_up_to_twenty_with_a_note(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("see files")
    for index in range(25):
        message.add_attachment(f"file {index}".encode(), maintype="application", subtype="octet-stream")
    stored = await inbound.message(parse(message.as_bytes(policy=SMTP)), ACCOUNT, tmp_path)
    assert len(stored.attachments) == 20
    assert stored.text.endswith("[5 more attachments were dropped]")
    assert len(list((tmp_path / "attachments" / "1").iterdir())) == 20


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.com\r\nSubject: " + b"=?utf-8?q?a?= " * 200_000 + b"\r\n\r\nx",
        b"From: a@example.com\r\nTo: "
        + b", ".join(b"u%d@example.com" % i for i in range(50_000))
        + b"\r\n\r\nx",
        b"From: " + b"(" * 5_000 + b"a@example.com\r\n\r\nx",
        b"From: a@example.com\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 3_000_000,
        b"From: a@example.com\r\nReferences: " + b"<a@b> " * 100_000 + b"\r\n\r\nx",
    ],
    ids=["encoded-words", "addresses", "comment-nesting", "one-long-line", "references"],
)
def test_header_and_line_bombs_are_cheap(raw: bytes) -> None:
    started = time.perf_counter()
    with contextlib.suppress(Rejected):
        _checked(parse(raw))
    assert time.perf_counter() - started < 2


def test_structure_bombs_are_refused() -> None:
    nested = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(5_000)
    )
    with pytest.raises(TooComplex):
        parse(b"From: a@example.com\r\n" + nested + b"Content-Type: text/plain\r\n\r\nhi")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, 6 May 2024 at 10:00, Shop <s@shop.example> wrote:\n> old", "Thanks!"),
        ("Danke\n\nAm 06.05.2024 um 10:00 schrieb Shop <s@shop.example>:\n> alt", "Danke"),
        ("好的\n\n2024年5月6日 10:00，Shop <s@shop.example> 写道：\n> 旧", "好的"),
        ("了解です\n\n2024年5月6日(月) 10:00 Shop <s@shop.example>:\n> 古い", "了解です"),
        ("Ok\n\nFrom: Shop <s@shop.example>\nSent: Monday\nTo: me\nSubject: x\n\nold", "Ok"),
        ("Ok\n\n发件人： Shop\n发送时间： 2024年5月6日\n收件人： 我\n\n旧", "Ok"),
        ("Hi\n-- \nBob, ACME", "Hi"),
        ("Hi\n\nSent from my iPhone", "Hi"),
        ("> which size?\nL\n> colour?\nred", "> which size?\nL\n> colour?\nred"),
        ("On Monday the courier wrote:\nsee below", "On Monday the courier wrote:\nsee below"),
        ("I want:\n- a refund\n- a label", "I want:\n- a refund\n- a label"),
        ("> all quoted", "> all quoted"),
    ],
)
def test_trimming(text: str, expected: str) -> None:
    assert quotes.trim(text) == expected


# ---- fuzzing ----

HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
     "Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "X-Anything"]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "a@example.com",
            "Näme <n@example.com>",
            "=?utf-8?b?w6Q=?= <x@y.z>",
            "=?bogus?q?=FF?=",
            "<id@x> <id2@y>",
            "multipart/mixed; boundary=B",
            'multipart/alternative; boundary="B"',
            "text/plain; charset=utf-16",
            "text/html; charset=gb18030",
            "message/rfc822",
            "attachment; filename*=utf-8''%E2%82%AC.pdf",
            "base64",
            "quoted-printable",
            "Mon, 32 Foo 2024 99:99:99 +9999",
            "(((((",
            '"unterminated',
        ]
    ),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [b"--B\r\n\r\nx\r\n--B--\r\n", b"--B\r\nContent-Type: text/html\r\n\r\n<p>x<script>", b"=\r\n=XX"]
    ),
)


@st.composite
def structured_mail(draw: Any) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=10))
    lines = [f"{name}: {value}" for name, value in headers]
    raw = "\r\n".join(lines).encode("utf-8", "surrogatepass")
    parts = draw(st.lists(BODIES, max_size=4))
    return raw + b"\r\n\r\n" + b"\r\n".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2_000) | structured_mail())
def test_fuzzed_mail_parses_cleanly_or_is_refused_cleanly(raw: bytes) -> None:
    try:
        mail = _checked(parse(raw))
    except Rejected:
        return
    assert len(quotes.trim(mail.text)) <= len(mail.text.strip()) or mail.text.strip() == ""


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=structured_mail())
async def test_fuzzed_mail_becomes_a_valid_inbound_message_or_a_clean_refusal(
    tmp_path: Path, raw: bytes
) -> None:
    try:
        message = await inbound.message(parse(raw), ACCOUNT, tmp_path)
    except Rejected:
        return
    assert message.channel in ("email", "amazon", "ebay") and len(message.text) <= MAX_TEXT


def test_fixtures_parse() -> None:
    for path in sorted((Path(__file__).parent.parent / "fixtures" / "email").glob("*.eml")):
        _checked(parse(fixture(path.name)))
