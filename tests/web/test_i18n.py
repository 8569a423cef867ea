"""Every text of the agents' app is translated into Chinese, and the translations reach the pages."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from crossdesk.web import i18n

WEB = Path(i18n.__file__).parent
ASSISTANT = WEB.parent / "assistant"  # its notes to the agents are in the agents' language
METHODS = [("templates/**.html", "jinja2"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        found.add(message if isinstance(message, str) else message[0])
    for _file, _line, message, _comments, _context in extract_from_dir(
        ASSISTANT, [("*.py", "python")], {}, KEYWORDS, strip_comment_tags=True
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_sources_are_found() -> None:
    messages = source_messages()
    assert {"Inbox", "Skip to content", "Log out"} <= messages


def test_every_message_has_a_chinese_translation() -> None:
    catalog = i18n.translations("zh-CN")
    with i18n.viewing(i18n.Viewer("zh-CN", "UTC")):
        missing = sorted(m for m in source_messages() if catalog.ugettext(m) == m)
    assert missing == []


def test_english_is_the_source_and_an_unknown_language_falls_back_to_it() -> None:
    with i18n.viewing(i18n.Viewer("en", "UTC")):
        assert i18n.gettext("Inbox") == "Inbox"
    with i18n.viewing(i18n.Viewer("xx", "UTC")):
        assert i18n.gettext("Inbox") == "Inbox"
    with i18n.viewing(i18n.Viewer("zh-CN", "UTC")):
        assert i18n.gettext("Inbox") == "收件箱"


def test_times_are_shown_in_the_viewers_zone_and_language() -> None:
    with i18n.viewing(i18n.Viewer("zh-CN", "Asia/Shanghai")):
        assert i18n.when("2026-11-25T10:00:00+00:00") == "2026/11/25 18:00"
    with i18n.viewing(i18n.Viewer("en", "America/New_York")):
        assert i18n.when("2026-11-25T10:00:00+00:00") == "11/25/26, 5:00\u202fAM"
        assert i18n.when(None) == ""
        assert i18n.clock_in("Europe/Berlin", i18n._as_datetime("2026-11-25T10:00:00Z")) == "11:00"
        assert i18n.clock_in(None) == ""
    with i18n.viewing(i18n.Viewer("en", "Not/AZone")):
        assert i18n.when("2026-11-25T10:00:00+00:00") == "11/25/26, 10:00\u202fAM"  # UTC, not a crash


def test_no_catalog_keeps_a_message_the_sources_no_longer_have() -> None:
    from babel.messages.pofile import read_po

    used = source_messages()
    stale = []
    for po in sorted((WEB / "locale").glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            ids = [m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id]
        stale += [f"{po.name}: {i!r}" for i in ids if i not in used]
    assert stale == []
