"""Deterministic synthetic prediction logs for the nightly bias audit demo.

``write_demo_predictions(path, model_name="credit-scorer", disparity=True)`` writes a
Parquet file with the columns the audit reads: ``label``, ``prediction``, ``score``,
``sex``, ``race``, ``age_band``, ``timestamp``. With ``disparity=True`` applicants aged
66+ get lower scores, so they are approved at about half the rate of the best-treated
age band and the audit raises its flag; without it every group is scored alike. A handful
of rows carry ``sex = "non-binary"`` (well under 30), to show how small groups are
reported but never flagged. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEXES = ("female", "male", "non-binary")
SEX_WEIGHTS = (0.499, 0.4995, 0.0015)
RACES = ("a", "b", "c", "d", "e")
RACE_WEIGHTS = (0.40, 0.25, 0.18, 0.12, 0.05)
AGE_BANDS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+")
AGE_WEIGHTS = (0.14, 0.22, 0.21, 0.18, 0.14, 0.11)
DISADVANTAGED_AGE_BAND = "66+"
WINDOW_END = datetime(2026, 3, 2, tzinfo=UTC)
"""End of the 24 h window the demo predictions cover (fixed, so output is reproducible)."""
THRESHOLD = 0.5


def default_seed(model_name: str) -> int:
    """A stable seed per model name (``hash()`` is salted per process; CRC-32 is not)."""
    return zlib.crc32(model_name.encode())


def write_demo_predictions(
    path: Path | str,
    *,
    model_name: str,
    rows: int = 20000,
    seed: int | None = None,
    disparity: bool,
    window_end: datetime = WINDOW_END,
) -> Path:
    """Write ``rows`` synthetic predictions of ``model_name`` to the Parquet file ``path``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(default_seed(model_name) if seed is None else seed)
    sex = rng.choice(len(SEXES), size=rows, p=SEX_WEIGHTS)
    race = rng.choice(len(RACES), size=rows, p=RACE_WEIGHTS)
    age = rng.choice(len(AGE_BANDS), size=rows, p=AGE_WEIGHTS)
    # Creditworthiness drives the true outcome; the model sees it through noise.
    merit = rng.normal(0.0, 1.0, size=rows)
    label = (merit + rng.normal(0.0, 0.6, size=rows) > 0.25).astype(np.int8)
    logit = 1.6 * merit + rng.normal(0.0, 0.5, size=rows)
    if disparity:
        logit -= 1.1 * (age == AGE_BANDS.index(DISADVANTAGED_AGE_BAND))
    score = 1.0 / (1.0 + np.exp(-logit))
    prediction = (score >= THRESHOLD).astype(np.int8)
    seconds = np.sort(rng.integers(0, 24 * 3600, size=rows))
    start = window_end - timedelta(days=1)
    timestamps = np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")

    def categorical(codes: np.ndarray, values: tuple[str, ...]) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values))

    table = pa.table(
        {
            "label": pa.array(label),
            "prediction": pa.array(prediction),
            "score": pa.array(np.round(score, 6)),
            "sex": categorical(sex, SEXES),
            "race": categorical(race, RACES),
            "age_band": categorical(age, AGE_BANDS),
            "timestamp": pa.array(timestamps, type=pa.timestamp("s", tz="UTC")),
        },
        metadata={"governance.model_name": model_name, "governance.demo": "true"},
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.demo_predictions", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--model-name", default="credit-scorer")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-disparity", action="store_true")
    args = parser.parse_args(argv)
    out = write_demo_predictions(
        args.path,
        model_name=args.model_name,
        rows=args.rows,
        seed=args.seed,
        disparity=not args.no_disparity,
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
