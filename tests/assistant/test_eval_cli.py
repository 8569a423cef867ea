"""``crossdesk assistant eval``: a small file in, the figures printed, the ``--json`` last line parses."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crossdesk.cli import app

LINES = [
    {"text": "Where is my order? It has been two weeks.", "language": "en", "intent": "track_order"},
    {"text": "Ich möchte meine Bestellung stornieren.", "language": "de", "intent": "cancel_order"},
    {"text": "Je veux parler à un humain.", "language": "fr", "expect": "handover"},
    {"text": "¿Cuánto tarda el envío a México?", "intent": "delivery_period"},  # Bitext's name: an alias
    {"text": "😀"},
]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["assistant", "eval", *args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, result.output


def test_jsonl_figures_and_json_last_line(tmp_path: Path) -> None:
    file = tmp_path / "set.jsonl"
    file.write_text("\n".join(json.dumps(line) for line in LINES) + "\n", encoding="utf-8")
    code, out = run(str(file), "--json")
    assert code == 0, out
    assert "language accuracy: 100.0% of 3" in out
    assert "intent accuracy: 100.0% of 3" in out
    assert "p95" in out and "auto-answer rate: not measured" in out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["messages"] == 5
    assert figures["language_accuracy"] == 1.0 and figures["intent_accuracy"] == 1.0
    assert figures["latency_p95_ms"] >= figures["latency_p50_ms"] > 0
    assert figures["model_memory_mb"] >= 0
    assert figures["auto_answer_rate"] is None and figures["handover_scored"] == 1


def test_csv_with_bitext_columns_scores_intent_only(tmp_path: Path) -> None:
    file = tmp_path / "bitext.csv"
    file.write_text(
        "utterance,intent,category\nI want to cancel order 1234,cancel_order,ORDER\n"
        "where can I get my invoice,get_invoice,INVOICE\nhow do I reset my password,track_order,ACCOUNT\n",
        encoding="utf-8",
    )
    code, out = run(str(file), "--json")
    assert code == 0, out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["language_accuracy"] is None and figures["intent_scored"] == 3
    assert abs(figures["intent_accuracy"] - 2 / 3) < 1e-9
    assert figures["top_confusions"] == [
        {"expected": "track_order", "predicted": "recover_password", "count": 1}
    ]
    assert "track_order -> recover_password: 1" in out


def test_a_bad_file_is_refused_with_its_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    code, out = run(str(file))
    assert code == 1 and "line 2" in out
