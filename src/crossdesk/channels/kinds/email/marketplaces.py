"""Buyer messages that marketplaces relay by e-mail, recognised so they land in the right channel.

Amazon (Seller Central help, "Buyer-Seller Messaging"): each buyer gets an anonymised alias per seller,
stable over time, at ``marketplace.amazon.<site>`` (``kr3b15szg6bmv7w@marketplace.amazon.de``); mail sent
to the alias from the seller's registered address reaches the buyer. The relayed mail names the order
(``Order: 123-1234567-1234567`` in the subject, ``Order ID`` in the body) and wraps the buyer's words
between dashed "Begin message" and "End message" lines (translated on other sites), above Amazon's footer.

eBay (Trading API guide, "Member communications"): each member has a static alias at
``members.ebay.<site>``, used as the sender or reply-to of member messages (``eBay - <user id>`` as the
display name); a reply to the alias reaches the member in eBay's messages. The item number is in the
subject or body.

Anyone can write ``From: x@marketplace.amazon.com``: without DKIM checks (not done here) a recognised mail
is as trustworthy as any e-mail, and it only changes how the conversation is labelled and answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crossdesk.channels.kinds.email.parsing import Mail

_AMAZON_ALIAS = re.compile(
    r"^[a-z0-9]{6,64}@marketplace\.amazon\.(?:com|ca|com\.mx|com\.br|co\.uk|de|fr|it|es|nl|se|pl|com\.be"
    r"|com\.tr|ae|sa|eg|in|co\.jp|com\.au|sg|ie)$"
)
_ORDER_ID = re.compile(r"\b(\d{3}-\d{7}-\d{7})\b")
_MARKER = re.compile(r"^\s*-{5,}[^-\n]{1,80}-{5,}\s*$")
_AMAZON_NAME_SUFFIX = re.compile(r"\s*[-–]\s*Amazon\b.*$", re.I)

_EBAY_ALIAS = re.compile(
    r"^[a-z0-9._-]{1,64}@members\.ebay\.(?:com|co\.uk|de|fr|it|es|ca|com\.au|at|ch|ie|nl|pl)$"
)
_EBAY_DISPLAY = re.compile(r"^eBay\s*[-–:]\s*(\S{1,64})$", re.I)
_EBAY_USER_LINES = (
    re.compile(
        r"^(?:(?:re|aw|fwd?|wg)\s*:\s*)*(?:[\w ]{1,30}:\s*)?(\S{1,64}) (?:has )?sent (?:you )?a message", re.I
    ),
    re.compile(
        r"(?:New message from|Neue Nachricht von|Nouveau message de|Nuevo mensaje de)\s*:?\s*(\S{1,64})"
    ),
)
_EBAY_ITEM = re.compile(
    r"(?:Item\s*(?:ID|number|no\.?|#)|Artikelnummer|Artikel-?Nr\.?|Num[ée]ro de l'objet|N° de l'objet"
    r"|N[úu]mero de art[íi]culo|物品编号|商品番号)\s*[:：#]?\s*(\d{9,15})\b"
    r"|#(\d{12})\b",
    re.I,
)


@dataclass(frozen=True)
class Relayed:
    """Who wrote through the relay, and how to answer: ``reply_to`` is the relay alias."""

    channel: str
    name: str | None
    reply_to: str
    identities: list[tuple[str, str]]
    meta: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # the buyer's words cut out of the relay's wrapper, when found


def recognise(mail: Mail) -> Relayed | None:
    return _amazon(mail) or _ebay(mail)


def _alias(mail: Mail, pattern: re.Pattern[str]) -> str | None:
    return next((a for a in (mail.sender, mail.reply_to) if a and pattern.match(a)), None)


def _amazon(mail: Mail) -> Relayed | None:
    alias = _alias(mail, _AMAZON_ALIAS)
    if alias is None:
        return None
    name = _AMAZON_NAME_SUFFIX.sub("", mail.sender_name or "").strip() or None
    order = _ORDER_ID.search(mail.subject or "") or _ORDER_ID.search(mail.text)
    meta = {"order_id": order.group(1)} if order else {}
    return Relayed("amazon", name, alias, [("amazon_buyer", alias)], meta, _between_markers(mail.text))


def _between_markers(text: str) -> str | None:
    """The text between the first two dashed marker lines ("----- Begin message -----")."""
    lines = text.split("\n")
    markers = [i for i, line in enumerate(lines) if len(line) <= 200 and _MARKER.match(line)]
    if len(markers) < 2:
        return None
    inner = "\n".join(lines[markers[0] + 1 : markers[1]]).strip()
    return inner or None


def _ebay(mail: Mail) -> Relayed | None:
    alias = _alias(mail, _EBAY_ALIAS)
    if alias is None:
        return None
    user = _ebay_user(mail) or alias.partition("@")[0]
    item = _EBAY_ITEM.search(mail.subject or "") or _EBAY_ITEM.search(mail.text)
    meta = {"item_id": item.group(1) or item.group(2)} if item else {}
    return Relayed("ebay", user, alias, [("ebay_user", user)], meta)


def _ebay_user(mail: Mail) -> str | None:
    display = _EBAY_DISPLAY.match(mail.sender_name or "")
    if display:
        return display.group(1)
    for pattern in _EBAY_USER_LINES:
        found = pattern.search(mail.subject or "") or pattern.search(mail.text[:5_000])
        if found:
            return found.group(1).strip("()[]<>,.:")[:64] or None
    return None
