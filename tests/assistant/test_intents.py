"""The shipped intent model: Bitext's dev split, the multilingual set, our own held-out examples."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

import numpy as np
import pytest

from crossdesk.assistant import understand, understand_async
from crossdesk.assistant.intents import (
    BITEXT_DEV,
    DATA,
    EXTRA,
    MODEL_PATH,
    IntentModel,
    classify,
    embed,
    embedder,
    fit,
    read_examples,
    shipped_model,
)

NEW_INTENTS = {
    "product_question",
    "shipping_time",
    "damaged_item",
    "missing_item",
    "discount_code",
    "return_item",
}


def accuracy(texts: list[str], labels: list[str]) -> float:
    return sum(i.name == gold for i, gold in zip(classify(texts), labels, strict=True)) / len(labels)


@pytest.fixture(scope="module")
def dev() -> tuple[np.ndarray, list[str]]:
    texts, labels = read_examples(BITEXT_DEV)
    return embed(texts), labels  # ~10 s: once for the module


def test_at_least_98_percent_on_bitext_dev(dev: tuple[np.ndarray, list[str]]) -> None:
    embeddings, labels = dev
    assert len(labels) == 810
    predicted = [i.name for i in shipped_model().predict(embeddings)]
    assert sum(p == g for p, g in zip(predicted, labels, strict=True)) / len(labels) >= 0.98


def test_at_least_90_percent_on_the_multilingual_set() -> None:
    cases = [json.loads(line) for line in (DATA / "intent_eval.jsonl").read_text("utf-8").splitlines()]
    assert min(Counter(c["language"] for c in cases).values()) >= 15
    assert accuracy([c["text"] for c in cases], [c["intent"] for c in cases]) >= 0.90


def test_held_out_examples_of_our_own_intents() -> None:
    texts, labels = read_examples(EXTRA, "test")
    assert NEW_INTENTS | {"complaint"} <= set(labels)
    assert accuracy(texts, labels) >= 0.90


def test_the_new_intents_have_40_training_examples_each() -> None:
    _, labels = read_examples(EXTRA, "train")
    counts = Counter(labels)
    assert all(counts[name] >= 40 for name in NEW_INTENTS)


def test_the_model_file_is_small_and_names_every_intent() -> None:
    model = IntentModel.load(MODEL_PATH)
    assert model.weights.shape == (384, len(model.labels))
    assert NEW_INTENTS | {"track_order", "cancel_order", "contact_human_agent"} <= set(model.labels)
    assert "delivery_period" not in model.labels  # folded into shipping_time
    assert MODEL_PATH.stat().st_size < 200_000


def test_an_intent_names_its_runner_up() -> None:
    [intent] = classify(["I want to speak to a real person please"])
    assert intent.name == "contact_human_agent"
    assert intent.runner_up != intent.name
    assert 1.0 >= intent.confidence >= intent.runner_up_confidence >= 0.0


def test_training_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 384)).astype(np.float32)
    labels = ["a", "b", "c"] * 20
    first, second = fit(x, labels), fit(x, labels)
    assert first.labels == ("a", "b", "c")
    assert np.array_equal(first.weights, second.weights) and np.array_equal(first.bias, second.bias)


def test_no_intent_without_words_and_huge_text_is_cut() -> None:
    empty, emoji, huge = understand(["", "😡😡😡", "Where is my order? " * 50_000])
    assert empty.intent is None and emoji.intent is None
    assert huge.language.language == "en" and huge.intent is not None
    assert huge.intent.name == "track_order"


def test_one_model_per_process_even_under_concurrent_first_use() -> None:
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(id(embedder()))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1


async def test_understanding_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    [result] = await understand_async(["Ich möchte meine Bestellung stornieren"], {"de", "en"})
    ticker.cancel()
    assert result.language.language == "de" and result.intent is not None
    assert result.intent.name == "cancel_order"
    assert ticks > 1 and threading.get_ident() == loop_thread
