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


DEMO_DISPARITY = frozenset({"credit-scorer"})
"""Demo models whose prediction logs carry the built-in age disparity (the others are fair)."""
PREDICTIONS_FILE = "predictions.parquet"
"""File written inside a demo card's ``predictions_location`` folder."""


def demo_predictions_path(predictions_location: str, *, include_dir: Path) -> Path | None:
    """Where the demo log of a card's ``predictions_location`` goes: ``PREDICTIONS_FILE`` in that
    folder under ``include_dir``, or ``None`` for locations the demo does not write (``s3://``,
    absolute paths, files)."""
    if "://" in predictions_location or predictions_location.startswith("/"):
        return None
    if not predictions_location.endswith("/"):
        return None
    root = include_dir.resolve()
    folder = (root / predictions_location).resolve()
    if not folder.is_relative_to(root):
        return None
    return folder / PREDICTIONS_FILE


def write_predictions_atomic(path: Path, *, model_name: str, rows: int = 20000, disparity: bool) -> Path:
    """:func:`write_demo_predictions` through a hidden temporary file and ``os.replace`` (readers
    never see half a file; Parquet datasets skip names starting with ``.``); an identical file
    is left untouched."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        write_demo_predictions(tmp, model_name=model_name, rows=rows, disparity=disparity)
        if path.is_file() and path.read_bytes() == tmp.read_bytes():
            return path
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_all_demo_predictions(include_dir: Path | None = None, *, rows: int = 20000) -> list[Path]:
    """Demo prediction logs for every demo card (``include/model_cards``) with protected
    attributes and a ``predictions_location`` folder inside the include folder.

    The credit scorer's log has the built-in disparity (:data:`DEMO_DISPARITY`), so the nightly
    bias audit raises its flag; the others are scored alike for every group. Idempotent: same
    bytes every time. Returns the files (written or already up to date).
    """
    from governance import config
    from governance.cards import load_card

    root = include_dir or config.include_dir()
    written = []
    for card_file in sorted((root / "model_cards").glob("*.yaml")):
        card = load_card(card_file)
        if not card.protected_attributes or not card.predictions_location:
            continue
        path = demo_predictions_path(card.predictions_location, include_dir=root)
        if path is None:
            continue
        written.append(
            write_predictions_atomic(path, model_name=card.name, rows=rows, disparity=card.name in DEMO_DISPARITY)
        )
    return written


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
