"""``crossdesk assistant eval``: run a labelled set of buyer messages through the understanding and score it.

A file is CSV (Bitext's columns: ``utterance``, ``intent``, optionally ``language``) or JSON Lines with
``text`` and, each optional, ``language``, ``intent``, ``expect`` (answer|handover). A field that is
absent is not scored.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossdesk.assistant import understand
from crossdesk.assistant.intents import embedder, normalize_label, shipped_model
from crossdesk.assistant.language import SUPPORTED, word_count

EXPECTATIONS = ("answer", "handover")
NOT_MEASURED = "not measured (the assistant does not answer yet)"


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    language: str | None = None
    intent: str | None = None
    expect: str | None = None


class BadFile(ValueError):
    """The file is neither a usable CSV nor JSON Lines; the message says where."""


def load_cases(path: Path) -> list[Case]:
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".csv":
        return _csv_cases(raw)
    return _jsonl_cases(raw)


def _optional(value: object, field: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadFile(f"{where}: {field} must be a string")
    return value.strip()


def _csv_cases(raw: str) -> list[Case]:
    reader = csv.DictReader(io.StringIO(raw))
    if "utterance" not in (reader.fieldnames or []):
        raise BadFile("the CSV has no 'utterance' column")
    return [
        Case(row["utterance"] or "", _optional(row.get("language"), "language", f"row {n}"),
             _optional(row.get("intent"), "intent", f"row {n}"))
        for n, row in enumerate(reader, start=2)
    ]  # fmt: skip


def _jsonl_cases(raw: str) -> list[Case]:
    cases = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadFile(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise BadFile(f"{where}: expected an object with a string 'text'")
        expect = _optional(item.get("expect"), "expect", where)
        if expect is not None and expect not in EXPECTATIONS:
            raise BadFile(f"{where}: expect must be one of {', '.join(EXPECTATIONS)}")
        language = _optional(item.get("language"), "language", where)
        cases.append(Case(item["text"], language, _optional(item.get("intent"), "intent", where), expect))
    return cases


def rss_mb() -> float:
    """This process's resident memory (Linux /proc; nan elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def load_models(allowed: Collection[str] = SUPPORTED) -> dict[str, float]:
    """Load every model the understanding uses; what it took in seconds and in memory."""
    before, start = rss_mb(), time.perf_counter()
    embedder()
    shipped_model()
    understand(["ok"], allowed)  # a short message: py3langid, lingua (preloading its models) and e5
    return {"load_s": time.perf_counter() - start, "rss_before_mb": before, "rss_after_mb": rss_mb()}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (nan when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def evaluate(cases: Sequence[Case], allowed: Collection[str] = SUPPORTED) -> dict[str, Any]:
    """Every figure of the evaluation as one JSON-ready dict."""
    memory = load_models(allowed)
    latencies, lang_hits, lang_long = [], [0, 0], [0, 0]
    intent_hits, confusions = [0, 0], Counter[tuple[str, str]]()
    by_language: dict[str, list[int]] = {}
    for case in cases:
        start = time.perf_counter()
        result = understand([case.text], allowed)[0]  # one message at a time: the live path
        latencies.append(1000 * (time.perf_counter() - start))
        if case.language is not None:
            ok = result.language.language == case.language
            lang_hits[0] += ok
            lang_hits[1] += 1
            if word_count(case.text) >= 3:
                lang_long[0] += ok
                lang_long[1] += 1
        if case.intent is not None:
            gold = normalize_label(case.intent)
            got = result.intent.name if result.intent else "(none)"
            intent_hits[0] += got == gold
            intent_hits[1] += 1
            tally = by_language.setdefault(case.language or "?", [0, 0])
            tally[0] += got == gold
            tally[1] += 1
            if got != gold:
                confusions[(gold, got)] += 1
    return {
        "messages": len(cases),
        "language_accuracy": _share(*lang_hits),
        "language_accuracy_3_words_plus": _share(*lang_long),
        "language_scored": lang_hits[1],
        "language_scored_3_words_plus": lang_long[1],
        "intent_accuracy": _share(*intent_hits),
        "intent_scored": intent_hits[1],
        "intent_accuracy_by_language": {k: v[0] / v[1] for k, v in sorted(by_language.items())},
        "top_confusions": [
            {"expected": gold, "predicted": got, "count": n} for (gold, got), n in confusions.most_common(10)
        ],
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p95_ms": percentile(latencies, 0.95),
        "model_load_s": memory["load_s"],
        "model_memory_mb": memory["rss_after_mb"] - memory["rss_before_mb"],
        "rss_mb": memory["rss_after_mb"],
        # The answering part does not exist yet: these stay unmeasured rather than guessed.
        "auto_answer_rate": None,
        "wrong_answer_rate": None,
        "handover_correctness": None,
        "handover_scored": sum(1 for c in cases if c.expect is not None),
    }


def _pct(value: float | None) -> str:
    return "not scored (no labels in the file)" if value is None else f"{100 * value:.1f}%"


def report_lines(figures: dict[str, Any]) -> list[str]:
    """The figures as lines for a person."""
    lines = [
        f"messages: {figures['messages']}",
        f"language accuracy: {_pct(figures['language_accuracy'])} of {figures['language_scored']}",
        f"language accuracy, 3 words and more: {_pct(figures['language_accuracy_3_words_plus'])}"
        f" of {figures['language_scored_3_words_plus']}",
        f"intent accuracy: {_pct(figures['intent_accuracy'])} of {figures['intent_scored']}",
    ]
    lines += [f"  {lang}: {100 * acc:.1f}%" for lang, acc in figures["intent_accuracy_by_language"].items()]
    if figures["top_confusions"]:
        lines.append("top intent errors (expected -> predicted: count):")
        lines += [f"  {c['expected']} -> {c['predicted']}: {c['count']}" for c in figures["top_confusions"]]
    lines += [
        f"latency per message (understanding only): p50 {figures['latency_p50_ms']:.1f} ms,"
        f" p95 {figures['latency_p95_ms']:.1f} ms",
        f"models: loaded in {figures['model_load_s']:.2f} s, {figures['model_memory_mb']:.0f} MB"
        f" (process RSS {figures['rss_mb']:.0f} MB)",
        f"auto-answer rate: {NOT_MEASURED}",
        f"wrong-answer rate: {NOT_MEASURED}",
        f"hand-over correctness: {NOT_MEASURED}"
        + (f" ({figures['handover_scored']} labelled messages)" if figures["handover_scored"] else ""),
    ]
    return lines
