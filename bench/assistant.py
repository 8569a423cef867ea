"""How fast the assistant understands a message (language + embedding + intent), against the embedding alone.

    .venv/bin/python -m bench.assistant            # ~30 s: every message of the multilingual sets, 3 rounds
    .venv/bin/python -m bench.assistant --quick    # ~5 s: one round of 60 messages

Measured in one process, one message at a time (the live path: a buyer message arrives, is understood):
model load time and memory (RSS before/after loading), then per message the full understanding and, in the
same loop, the embedding call alone, so the overhead of language ID and the classifier shows directly.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.common import busy_before, machine, percentile, save_json, table
from crossdesk.assistant import understand
from crossdesk.assistant.eval import load_models, rss_mb
from crossdesk.assistant.intents import DATA, embed


def messages() -> list[str]:
    texts = []
    for name in ("intent_eval.jsonl", "language_eval.jsonl"):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        texts += [json.loads(line)["text"] for line in lines if line.strip()]
    return texts


def timed_ms(work: Any) -> float:
    start = time.perf_counter()
    work()
    return 1000 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one round of 60 messages")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    busy = busy_before(1.0)
    texts = messages()[:60] if args.quick else messages()
    rounds = 1 if args.quick else args.rounds

    rss_start = rss_mb()
    loaded = load_models()
    full, alone, batch = [], [], []
    for _ in range(rounds):
        for text in texts:
            alone.append(timed_ms(lambda text=text: embed([text])))
            full.append(timed_ms(lambda text=text: understand([text])))
        batch.append(timed_ms(lambda: understand(texts)) / len(texts))

    rows = [
        [
            "understand (language + embedding + intent)",
            percentile(sorted(full), 0.5),
            percentile(sorted(full), 0.95),
        ],
        ["embedding call alone", percentile(sorted(alone), 0.5), percentile(sorted(alone), 0.95)],
    ]
    print(f"{len(texts)} messages x {rounds} rounds, one at a time (machine {busy:.0f}% busy before)")
    print(table(["what", "p50 ms", "p95 ms"], rows))
    print(f"understand, the whole set in one call: {min(batch):.1f} ms a message (best of {rounds})")
    print(f"\nmodel load: {loaded['load_s']:.2f} s; RSS {rss_start:.0f} MB at start (imports),"
          f" {loaded['rss_before_mb']:.0f} -> {loaded['rss_after_mb']:.0f} MB across loading"
          f" (+{loaded['rss_after_mb'] - loaded['rss_before_mb']:.0f} MB)")  # fmt: skip
    name = "-".join(filter(None, ["assistant", "quick" if args.quick else "", args.tag]))
    result = {
        "benchmark": "assistant",
        "machine": machine(),
        "params": vars(args),
        "messages": len(texts),
        "rounds": rounds,
        "understand_p50_ms": percentile(sorted(full), 0.5),
        "understand_p95_ms": percentile(sorted(full), 0.95),
        "embedding_p50_ms": percentile(sorted(alone), 0.5),
        "embedding_p95_ms": percentile(sorted(alone), 0.95),
        "batched_per_message_ms": min(batch),
        "load_s": loaded["load_s"],
        "rss_before_load_mb": loaded["rss_before_mb"],
        "rss_after_load_mb": loaded["rss_after_mb"],
    }
    print(f"results: {save_json(name, result)}")


if __name__ == "__main__":
    main()
