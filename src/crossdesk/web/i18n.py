"""The agents' interface in their own language and time zone.

Messages come from Babel catalogs, ``locale/<language>/LC_MESSAGES/*.po`` (one file per area of the app),
read once at start-up: no compile step between editing a catalog and running. English is the source
language, so it needs no catalog. Dates are formatted by Babel for the agent's language, in the agent's zone.
A page sets the viewer (``viewing``) just before its template renders; the template's ``_()`` and the date
filters read it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}  # what an agent can pick; the key is stored
DEFAULT_LANGUAGE = "en"


@functools.cache
def translations(language: str) -> NullTranslations:
    """All catalogs of ``language`` merged (an unknown language, or English, translates to itself)."""
    folder = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES"
    merged: Translations | None = None
    for po in sorted(folder.glob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=language.replace("-", "_"))
        mo = io.BytesIO()
        write_mo(mo, catalog)  # fuzzy entries are left out: an unchecked guess is not shown
        mo.seek(0)
        loaded = Translations(mo)
        merged = loaded if merged is None else merged.merge(loaded)
    return merged if merged is not None else NullTranslations()


@functools.cache
def _locale(language: str) -> Locale:
    # Parsing costs ~0.1 ms for zh-CN; a page formats a time or two per row.
    return Locale.parse(language if language in LANGUAGES else DEFAULT_LANGUAGE, sep="-")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Viewer:
    language: str
    timezone: str

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)


NOBODY = Viewer(DEFAULT_LANGUAGE, "UTC")
_viewer: contextvars.ContextVar[Viewer | None] = contextvars.ContextVar("viewer", default=None)


@contextlib.contextmanager
def viewing(viewer: Viewer) -> Iterator[None]:
    token = _viewer.set(viewer)
    try:
        yield
    finally:
        _viewer.reset(token)


def current() -> Viewer:
    return _viewer.get() or NOBODY


def _catalog() -> NullTranslations:
    return translations(current().language)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the viewer's language, with ``%(name)s`` variables filled in."""
    text = _catalog().ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    return _catalog().ungettext(singular, plural, n) % {"num": n, **variables}


def N_(message: str) -> str:
    """Marks data that pages translate when they show it (a default segment's name) for the catalogs."""
    return message


def translated(value: str) -> str:
    """A data value in the viewer's language where the catalogs have it (see ``N_``), else as it is."""
    return _catalog().ugettext(value)


def _template_gettext(message: str) -> str:
    return _catalog().ugettext(message)  # Jinja fills in the variables (escaped) itself


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    return _catalog().ungettext(singular, plural, n)


def _as_datetime(value: dt.datetime | str | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def when(value: dt.datetime | str | None, style: str = "short") -> str:
    """A stored UTC time in the viewer's zone and language ("" for none)."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    viewer = current()
    return format_datetime(moment, style, tzinfo=viewer.tz, locale=viewer.locale)


def clock_in(timezone: str | None, now: dt.datetime | None = None) -> str:
    """The time it is now in someone else's zone (a buyer's), as the viewer writes times ("" if unknown)."""
    if not timezone:
        return ""
    moment = now or dt.datetime.now(dt.UTC)
    return format_datetime(moment, "HH:mm", tzinfo=zone(timezone), locale=current().locale)


def install(env: Any) -> None:
    """Give a Jinja2 environment ``_()``/``ngettext()`` and the date filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)
    env.filters["when"] = when
    env.filters["clock_in"] = clock_in
    env.globals["LANGUAGES"] = LANGUAGES
