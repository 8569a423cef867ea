"""The assistant's understanding, timed: entities + sentiment per message, and product matching on the
demo catalog (3,798 real UCI products) including the embedding of the message.

    .venv/bin/python -m bench.assistant_entities            # ~1 min the first time (embeds the catalog)
    .venv/bin/python -m bench.assistant_entities --rounds 3

Targets: entities + sentiment <= 2 ms p95 per message; product matching <= 20 ms p95 with the embedding.
The baseline printed beside it is the embedding call alone, timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from crossdesk.assistant.entities import DATA, ProductIndex, evaluate_entities, extract, product_words
from crossdesk.assistant.sentiment import assess, evaluate_assessments
from crossdesk.demo.dataset import load_products

RESULTS = Path(__file__).resolve().parent / "results"

MENTIONS = [
    "Die Alarmuhr Bakelike in Rot funktioniert nicht",
    "la tasse à café bleue à pois est cassée",
    "Ich möchte den weißen hängenden Herz-Teelichthalter zurückgeben",
    "my jumbo bag alphabt came torn, order 123-1234567-1234567",
    "Hi, item 85123A arrived broken",
    "红色圆点茶壶碎了",
    "Where is my order? It has been three weeks",
    "¿Cuándo llega mi pedido?",
]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_ms": round(ordered[-1], 3),
        "n": len(ordered),
    }


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def understand(text: str) -> None:
    extract(text, country="GB")
    assess(text, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the messages")
    args = parser.parse_args()

    entity_rows = [json.loads(line) for line in (DATA / "entities_eval.jsonl").read_text().splitlines()]
    sentiment_rows = [json.loads(line) for line in (DATA / "sentiment_eval.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in entity_rows + sentiment_rows]

    understanding = [timed(partial(understand, text)) for _ in range(args.rounds) for text in texts]

    catalog = [(p["sku"], p["title"]) for p in load_products()]
    start = time.perf_counter()
    index = ProductIndex(catalog, cache_dir=RESULTS / "cache")
    build_s = time.perf_counter() - start
    index.match(MENTIONS[0])  # warm
    matching = [timed(partial(index.match, text)) for _ in range(args.rounds * 4) for text in MENTIONS]
    lexical = [
        timed(partial(index.match, text, semantic=False)) for _ in range(args.rounds * 4) for text in MENTIONS
    ]
    embedding = [
        timed(partial(index.encoder, [product_words(text)], True))
        for _ in range(args.rounds * 4)
        for text in MENTIONS
    ]

    entities = {k: round(s.f1, 4) for k, s in evaluate_entities(entity_rows).items()}
    sentiment = evaluate_assessments(sentiment_rows)
    figures = {
        "entities_f1": entities,
        "sentiment": {
            "messages": sentiment.messages,
            "sentiment_accuracy": round(sentiment.sentiment_accuracy, 4),
            "urgency_accuracy": round(sentiment.urgency_accuracy, 4),
            "handover_recall": round(sentiment.handover_recall, 4),
            "handover_precision": round(sentiment.handover_precision, 4),
        },
        "entities_plus_sentiment": percentiles(understanding),
        "product_match_with_embedding": percentiles(matching),
        "embedding_call_alone": percentiles(embedding),
        "product_match_lexical_only": percentiles(lexical),
        "catalog": {"products": len(catalog), "index_build_s": round(build_s, 2)},
    }
    print(f"entity F1 on {len(entity_rows)} messages: {entities}")
    print(f"sentiment on {sentiment.messages} messages: {figures['sentiment']}")
    print(f"{'':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>6}")
    for name in (
        "entities_plus_sentiment",
        "product_match_with_embedding",
        "embedding_call_alone",
        "product_match_lexical_only",
    ):
        f = figures[name]
        assert isinstance(f, dict)
        print(f"{name:32} {f['p50_ms']:>8} {f['p95_ms']:>8} {f['max_ms']:>8} {f['n']:>6}")
    print(f"{len(catalog)} products: index built in {build_s:.1f} s (cached on disk after a first run)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "assistant_entities.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
