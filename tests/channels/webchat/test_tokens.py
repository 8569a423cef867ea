"""Visitor tokens: only this server mints them, for one widget, until they expire."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossdesk.channels.kinds.webchat import tokens

SECRET = "account-secret-" + "x" * 20
NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
VISITOR = "visitor-0123456789abcdef"


def test_a_token_names_its_widget_visitor_and_expiry() -> None:
    token, issued = tokens.issue(SECRET, "widget-1", VISITOR, now=NOW)
    seen = tokens.verify(SECRET, "widget-1", token, now=NOW + dt.timedelta(days=29))
    assert seen == issued
    assert seen.visitor_id == VISITOR and seen.expires_at == NOW + tokens.TTL


def test_new_visitor_ids_are_random_and_valid() -> None:
    ids = {tokens.new_visitor_id() for _ in range(100)}
    assert len(ids) == 100 and all(tokens.VISITOR_ID.match(i) for i in ids)


def test_an_expired_token_is_refused() -> None:
    token, _ = tokens.issue(SECRET, "widget-1", VISITOR, now=NOW, ttl=dt.timedelta(hours=1))
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(SECRET, "widget-1", token, now=NOW + dt.timedelta(hours=1))


def test_another_widgets_token_is_refused_even_with_the_same_secret() -> None:
    token, _ = tokens.issue(SECRET, "widget-1", VISITOR, now=NOW)
    with pytest.raises(tokens.InvalidToken, match="another widget"):
        tokens.verify(SECRET, "widget-2", token, now=NOW)


def _swap_payload(token: str, other: str) -> str:
    head, _, sig = token.split(".")
    return ".".join((head, other.split(".")[1], sig))


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: tokens.issue("another secret", "widget-1", VISITOR, now=NOW)[0],
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # tampered signature
        lambda t: _swap_payload(t, tokens.issue(SECRET, "widget-1", "someone-else-0123456", now=NOW)[0]),
        lambda t: t.rsplit(".", 1)[0] + ".",  # no signature
        lambda t: "v1.e30." + t.rsplit(".", 1)[1],  # an empty payload under a real signature
        lambda t: "",
        lambda t: "a.b",
        lambda t: t + "." + t,
        lambda t: "x" * 5000,
    ],
)
def test_a_forged_token_is_refused(forge) -> None:  # type: ignore[no-untyped-def]
    token, _ = tokens.issue(SECRET, "widget-1", VISITOR, now=NOW)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, "widget-1", forge(token), now=NOW)


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_is_never_a_token_and_only_raises_invalid_token(text: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, "widget-1", text, now=NOW)


@given(st.dictionaries(st.text(max_size=5), st.none() | st.integers() | st.text(max_size=30), max_size=4))
def test_signed_but_wrong_shaped_payloads_are_refused_cleanly(claims: dict[str, object]) -> None:
    """Even a payload this server signed is checked field by field (a future bug must not let junk in)."""
    import json

    signed = "v1." + tokens._b64(json.dumps(claims).encode())
    token = f"{signed}.{tokens._signature(SECRET, signed)}"
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, "widget-1", token, now=NOW)


def test_visitor_ids_are_checked_when_issuing() -> None:
    with pytest.raises(ValueError, match="visitor id"):
        tokens.issue(SECRET, "widget-1", "short", now=NOW)
