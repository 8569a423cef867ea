"""The e-mail channel (with Amazon and eBay buyer messages relayed by e-mail): ``adapter`` ties together
``receiving`` (the SMTP receiver), ``polling`` (IMAP), ``parsing``, ``quotes``, ``htmltext``,
``marketplaces``, ``inbound`` (a mail as an InboundMessage), ``attachments``, ``tokens`` and ``sending``."""

from __future__ import annotations

from crossdesk.channels.kinds.email.adapter import EmailAdapter

ADAPTERS = [EmailAdapter()]
