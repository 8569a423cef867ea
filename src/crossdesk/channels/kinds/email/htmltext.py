"""HTML mail bodies: turned into text for the inbox (inscriptis, which lays out blocks, lists and tables,
drops scripts and styles, and reads broken markup as lxml's HTML parser recovers it), and sanitised for
display (nh3, the Ammonia sanitiser: no scripts, no event handlers, no ``javascript:`` URLs)."""

from __future__ import annotations

import nh3
from inscriptis import get_text


def html_to_text(html: str) -> str:
    return str(get_text(html)).strip()


def sanitize_html(html: str) -> str:
    return nh3.clean(html)
