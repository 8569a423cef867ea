"""@mentions in notes: which agents a text names."""

from __future__ import annotations

from crossdesk.conversations.mentions import parse_mentions

AGENTS = [(1, "Emma"), (2, "Emma Stone"), (3, "Li Wei"), (4, "Bob")]


def test_longest_name_wins_and_each_agent_once() -> None:
    assert parse_mentions("@Emma Stone please check, cc @emma and @Emma Stone", AGENTS) == [2, 1]


def test_names_are_matched_whole_and_case_blind() -> None:
    assert parse_mentions("@li wei: see @Bobby and mail@bob.example", AGENTS) == [3]
    assert parse_mentions("(@BOB)", AGENTS) == [4]


def test_no_mention() -> None:
    assert parse_mentions("nothing here @ all", AGENTS) == []
    assert parse_mentions("@Emma", []) == []
