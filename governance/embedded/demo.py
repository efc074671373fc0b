"""Demo data for the embedded default: evaluation sets and model artifacts for the demo cards.

Everything is deterministic, so the SHA-256 digests in ``include/model_cards/*.yaml`` stay
valid: ``python -m governance.embedded.demo --check`` verifies them, ``--write`` regenerates files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import pickle
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from governance import config


@dataclass(frozen=True, kw_only=True)
class DemoModel:
    name: str
    tier: str
    seed: int
    positive_rate: float
    accuracy: float


DEMO_MODELS = (
    DemoModel(name="doc-tagger", tier="low", seed=11, positive_rate=0.40, accuracy=0.93),
    DemoModel(name="product-recommender", tier="medium", seed=22, positive_rate=0.30, accuracy=0.88),
    DemoModel(name="credit-scorer", tier="high", seed=33, positive_rate=0.35, accuracy=0.86),
    DemoModel(name="clinical-triage", tier="critical", seed=44, positive_rate=0.25, accuracy=0.91),
)

EVAL_COLUMNS = ("id", "feature_1", "feature_2", "sex", "race", "age_band", "label", "prediction", "score")


def eval_csv(model: DemoModel, *, rows: int = 600) -> bytes:
    rng = random.Random(model.seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EVAL_COLUMNS)
    for i in range(rows):
        label = 1 if rng.random() < model.positive_rate else 0
        correct = rng.random() < model.accuracy
        pred = label if correct else 1 - label
        score = round(min(max(rng.gauss(0.75 if pred else 0.25, 0.12), 0.0), 1.0), 4)
        w.writerow(
            [
                i + 1,
                round(rng.gauss(0.0, 1.0), 4),
                round(rng.uniform(0.0, 100.0), 3),
                rng.choice(("female", "male")),
                rng.choice(("a", "b", "c", "d", "e")),
                rng.choice(("18-25", "26-35", "36-45", "46-55", "56-65", "66+")),
                label,
                pred,
                score,
            ]
        )
    return out.getvalue().encode()


def artifact_bytes(model: DemoModel) -> bytes:
    """A small, safe pickle (plain containers only) standing in for the model weights."""
    rng = random.Random(model.seed * 7)
    weights = {"model": model.name, "coef": [round(rng.uniform(-1, 1), 6) for _ in range(16)], "bias": 0.1}
    return pickle.dumps(weights, protocol=4)


def demo_files(model: DemoModel) -> dict[str, bytes]:
    return {
        f"demo/eval/{model.name}.csv": eval_csv(model),
        f"demo/artifacts/{model.name}.pkl": artifact_bytes(model),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_demo_files(include: Path | None = None) -> list[Path]:
    root = include or config.include_dir()
    written = []
    for model in DEMO_MODELS:
        for rel, data in demo_files(model).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.embedded.demo", description=__doc__)
    parser.add_argument("--write", action="store_true", help="(re)write demo files under include/")
    parser.add_argument("--digests", action="store_true", help="print each demo artifact's SHA-256")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_demo_files():
            print(f"wrote {path}")
    if args.digests:
        for model in DEMO_MODELS:
            print(model.name, sha256(artifact_bytes(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
