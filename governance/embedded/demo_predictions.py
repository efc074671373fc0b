"""Deterministic synthetic prediction logs for the nightly bias audit demo.

``write_demo_predictions(path, model_name="credit-scorer", disparity=True)`` writes a
Parquet file with the columns the audit reads: ``label``, ``prediction``, ``score``,
``sex``, ``race``, ``age_band``, ``timestamp``. With ``disparity=True`` applicants aged
66+ get lower scores, so they are approved at about half the rate of the best-treated
age band and the audit raises its flag; without it every group is scored alike. A handful
of rows carry ``sex = "non-binary"`` (well under 30), to show how small groups are
reported but never flagged. Same arguments, same bytes.

For the demo registry and the embedded default: :data:`DEMO_DISPARITY` names the demo
models whose log has the disparity, :func:`demo_predictions_path` maps a model card's
``predictions_location`` to the file to write, :func:`write_predictions_atomic` writes it
(replacing it atomically, and not at all when the bytes are already right), and
:func:`write_all_demo_predictions` does that for every demo card.
"""

from __future__ import annotations

import argparse
import io
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from governance._util import atomic_write

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
DEMO_DISPARITY = frozenset({"credit-scorer"})
"""Demo models whose prediction log has the built-in age disparity."""
PREDICTIONS_FILE = "predictions.parquet"
"""File name used when a card's ``predictions_location`` is a folder."""


def default_seed(model_name: str) -> int:
    """A stable seed per model name (``hash()`` is salted per process; CRC-32 is not)."""
    return zlib.crc32(model_name.encode())


def demo_predictions_bytes(
    *,
    model_name: str,
    rows: int = 20000,
    seed: int | None = None,
    disparity: bool,
    window_end: datetime = WINDOW_END,
) -> bytes:
    """The Parquet bytes of ``rows`` synthetic predictions of ``model_name``."""
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
        metadata={"governance.model_name": model_name, "governance.embedded.demo": "true"},
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def write_demo_predictions(
    path: Path | str,
    *,
    model_name: str,
    rows: int = 20000,
    seed: int | None = None,
    disparity: bool,
    window_end: datetime = WINDOW_END,
) -> Path:
    """Write ``rows`` synthetic predictions of ``model_name`` to the Parquet file ``path``.

    The file is replaced atomically (:func:`governance._util.atomic_write`: temp file +
    ``os.replace``; the temp name starts with a dot, which Parquet dataset readers skip), and left untouched when it already holds
    exactly these bytes, so reruns are free and readers never see half a file.
    """
    data = demo_predictions_bytes(
        model_name=model_name, rows=rows, seed=seed, disparity=disparity, window_end=window_end
    )
    out = Path(path)
    if out.is_file() and out.read_bytes() == data:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, data)


write_predictions_atomic = write_demo_predictions
"""The name the demo registry uses for :func:`write_demo_predictions`."""


def demo_predictions_path(location: str, *, include_dir: Path | None = None) -> Path | None:
    """The local file a card's ``predictions_location`` points at, resolved like the nightly
    audit resolves it (relative to the include folder); ``None`` for ``s3://`` locations.
    A folder location gets :data:`PREDICTIONS_FILE` inside it."""
    from governance.checks.base import resolve_uri

    source = resolve_uri(location, field="card.predictions_location", include_dir=include_dir)
    if source.path is None:
        return None
    if source.path.suffix == ".parquet":
        return source.path
    return source.path / PREDICTIONS_FILE


def write_all_demo_predictions(include_dir: Path | None = None) -> list[Path]:
    """Prediction logs for every demo card with a local ``predictions_location`` and
    protected attributes (the embedded default calls this); returns the files."""
    from governance import config
    from governance.cards import load_card

    root = include_dir or config.include_dir()
    written = []
    for card_file in sorted((root / "model_cards").glob("*.yaml")):
        card = load_card(card_file)
        if not card.predictions_location or not card.protected_attributes:
            continue
        path = demo_predictions_path(card.predictions_location, include_dir=root)
        if path is None:
            continue
        written.append(write_demo_predictions(path, model_name=card.name, disparity=card.name in DEMO_DISPARITY))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m governance.embedded.demo_predictions", description=__doc__.split("\n\n")[0]
    )
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
