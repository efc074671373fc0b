"""Bias audit benchmark: governance.bias.audit vs the Arrow read floor and stock fairlearn.

    .venv/bin/python benchmarks/bias_audit.py            # 100k, 1M, 10M and 100M rows
    .venv/bin/python benchmarks/bias_audit.py --quick    # skip the 100M-row streaming run
    .venv/bin/python benchmarks/bias_audit.py --quick --no-stock   # also skip stock fairlearn

Generates deterministic predictions (label, prediction, score; sex 2 groups, race 5,
age band 6) as Parquet under --data-dir (default: a temporary folder, removed afterwards
unless --keep), writing the large files in 1M-row batches so they are never held in
memory. Every measurement runs in its own subprocess, which reports its time and its peak
resident memory (VmHWM from /proc/self/status).

Printed:
  * ours ("core": selection rate, TPR, FPR per group + disparate impact + demographic
    parity difference + equalized odds difference; "all": the six per-group metrics) vs the
    pyarrow read of the same columns (``pq.read_table(columns=..., read_dictionary=...)``),
    timed alternately in the same process, best and median of --repeat runs;
  * ours vs stock fairlearn (``MetricFrame`` + the fairness functions on the raw rows) at
    100k and 1M rows, with the largest absolute difference between the two results;
  * the 100M-row streaming audit: time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

SEXES = ("female", "male")
RACES = ("a", "b", "c", "d", "e")
AGE_BANDS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+")
GROUP_COLUMNS = ["sex", "race", "age_band"]
COLUMNS = ["label", "prediction", *GROUP_COLUMNS]
CHUNK_ROWS = 1 << 20
SEED = 20260301
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000}

TARGET_10M_S = 0.3
TARGET_RATIO = 3.0
TARGET_RSS_10M_MB = 500
TARGET_RSS_100M_MB = 1024


# ----------------------------------------------------------------------------- data
def generate(path: Path, rows: int) -> Path:
    """Deterministic predictions, written 1M rows at a time (never all in memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    dictionaries = {
        "sex": pa.array(SEXES),
        "race": pa.array(RACES),
        "age_band": pa.array(AGE_BANDS),
    }
    schema = pa.schema(
        [
            ("label", pa.int8()),
            ("prediction", pa.int8()),
            ("score", pa.float32()),
            *((name, pa.dictionary(pa.int32(), pa.string())) for name in GROUP_COLUMNS),
        ]
    )
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            n = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng([SEED, index])
            sex = rng.integers(0, 2, n, dtype=np.int32)
            race = rng.choice(5, n, p=[0.4, 0.25, 0.18, 0.12, 0.05]).astype(np.int32)
            age = rng.integers(0, 6, n, dtype=np.int32)
            merit = rng.normal(0.0, 1.0, n).astype(np.float32)
            label = (merit + rng.normal(0.0, 0.6, n) > 0.25).astype(np.int8)
            logit = 1.6 * merit + rng.normal(0.0, 0.5, n) - 0.9 * (age == 5) - 0.3 * (race == 2)
            score = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
            columns = {
                "label": pa.array(label),
                "prediction": pa.array((score >= 0.5).astype(np.int8)),
                "score": pa.array(score),
                "sex": pa.DictionaryArray.from_arrays(pa.array(sex), dictionaries["sex"]),
                "race": pa.DictionaryArray.from_arrays(pa.array(race), dictionaries["race"]),
                "age_band": pa.DictionaryArray.from_arrays(pa.array(age), dictionaries["age_band"]),
            }
            writer.write_table(pa.table(columns, schema=schema), row_group_size=CHUNK_ROWS)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- children
def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import_audit_stack() -> None:
    """What an audit imports lazily (pyarrow, pandas, fairlearn, scikit-learn)."""
    import fairlearn.metrics  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import sklearn.metrics  # noqa: F401

    import governance.bias  # noqa: F401


def _read_floor(file: str) -> int:
    import pyarrow.parquet as pq

    return pq.read_table(file, columns=COLUMNS, read_dictionary=GROUP_COLUMNS).num_rows


def _stream_floor(file: str) -> int:
    import pyarrow.dataset as ds

    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=GROUP_COLUMNS))
    return sum(b.num_rows for b in ds.dataset(file, format=fmt).to_batches(columns=COLUMNS))


def _ours(file: str, metrics: str) -> dict[str, Any]:
    from governance.bias import CORE_METRICS, METRICS, audit

    chosen = CORE_METRICS if metrics == "core" else METRICS
    return audit(file, label="label", prediction="prediction", protected=GROUP_COLUMNS, metrics=chosen).to_dict()


def _stock(file: str) -> tuple[dict[str, Any], float]:
    """Stock fairlearn on the raw rows (reading into pandas is not counted)."""
    import pyarrow.parquet as pq
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    def precision(y_true: Any, y_pred: Any) -> float:
        return precision_score(y_true, y_pred, zero_division=0.0)

    df = pq.read_table(file, columns=COLUMNS).to_pandas()
    y, p = df["label"].to_numpy(), df["prediction"].to_numpy()
    started = time.perf_counter()
    out: dict[str, Any] = {}
    for column in GROUP_COLUMNS:
        frame = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
                "fnr": false_negative_rate,
                "precision": precision,
                "accuracy": accuracy_score,
            },
            y_true=y,
            y_pred=p,
            sensitive_features=df[column],
        )
        out[column] = {
            "groups": {str(k): {m: float(v) for m, v in row.items()} for k, row in frame.by_group.iterrows()},
            "disparate_impact": float(demographic_parity_ratio(y, p, sensitive_features=df[column])),
            "demographic_parity_difference": float(demographic_parity_difference(y, p, sensitive_features=df[column])),
            "equalized_odds_difference": float(equalized_odds_difference(y, p, sensitive_features=df[column])),
        }
    return out, time.perf_counter() - started


def _max_abs_diff(ours: dict[str, Any], stock: dict[str, Any]) -> float:
    worst = 0.0
    for column, ref in stock.items():
        mine = ours["attributes"][column]
        for key in ("disparate_impact", "demographic_parity_difference", "equalized_odds_difference"):
            worst = max(worst, abs(mine[key] - ref[key]))
        assert set(mine["groups"]) == set(ref["groups"]), column
        for group, values in ref["groups"].items():
            for metric, value in values.items():
                worst = max(worst, abs(mine["groups"][group][metric] - value))
    return worst


def child(kind: str, file: str, repeat: int) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; return figures as a dict."""
    if kind == "compare":
        started = time.perf_counter()
        _ours(file, "core")  # first call: includes importing pandas, fairlearn, scikit-learn
        first = time.perf_counter() - started
        times: dict[str, list[float]] = {"floor": [], "core": [], "all": []}
        breakdown: list[dict[str, float]] = []
        for _ in range(repeat):
            for name in times:
                t = time.perf_counter()
                if name == "floor":
                    _read_floor(file)
                else:
                    result = _ours(file, name)
                    if name == "core":
                        breakdown.append(result["timings"])
                times[name].append(time.perf_counter() - t)
        best = min(range(repeat), key=lambda i: times["core"][i])
        return {"first_call_s": first, "times": times, "core_breakdown": breakdown[best]}
    if kind in ("rss_core", "rss_all"):
        t = time.perf_counter()
        _import_audit_stack()
        imported = time.perf_counter()
        result = _ours(file, kind.removeprefix("rss_"))
        return {
            "import_s": imported - t,
            "seconds": time.perf_counter() - imported,
            "rows": result["rows"],
            "vmhwm_mb": _vmhwm_mb(),
        }
    if kind == "rss_floor":
        t = time.perf_counter()
        rows = _read_floor(file)
        return {"seconds": time.perf_counter() - t, "rows": rows, "vmhwm_mb": _vmhwm_mb()}
    if kind == "rss_imports":
        _import_audit_stack()
        return {"vmhwm_mb": _vmhwm_mb()}
    if kind == "stream_floor":
        import pyarrow.dataset  # noqa: F401  (imports are not part of the read)

        t = time.perf_counter()
        rows = _stream_floor(file)
        return {"seconds": time.perf_counter() - t, "rows": rows, "vmhwm_mb": _vmhwm_mb()}
    if kind == "stock":
        ours = _ours(file, "all")
        ours_s = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            ours = _ours(file, "all")
            ours_s = min(ours_s, time.perf_counter() - t)
        stock, stock_s = _stock(file)
        return {"ours_s": ours_s, "stock_s": stock_s, "max_abs_diff": _max_abs_diff(ours, stock)}
    raise SystemExit(f"unknown measurement {kind!r}")


def measure(kind: str, file: Path, *, repeat: int = 1) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE), "--measure", kind, "--file", str(file), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement {kind} on {file} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds < 10 else f"{seconds:8.2f} s "


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run(args: argparse.Namespace) -> int:
    import fairlearn
    import numpy
    import pyarrow

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="bias-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    sizes = {k: v for k, v in SIZES.items() if not (args.quick and k == "100M")}
    print(
        f"bias audit benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"fairlearn {fairlearn.__version__}, pyarrow {pyarrow.__version__}, numpy {numpy.__version__}"
    )
    print(f"data: {data_dir} (sex 2 groups, race 5, age band 6; label/prediction int8)")
    print("load average at start (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    files = {}
    for name, rows in sizes.items():
        t = time.perf_counter()
        files[name] = generate(data_dir / f"predictions_{name}.parquet", rows)
        size_mb = files[name].stat().st_size / 2**20
        print(f"  {name:>5}: {rows:>11,} rows, {size_mb:7.1f} MB  ({time.perf_counter() - t:.1f} s)")

    print("\n1. ours vs the Arrow read floor (same columns, same process, alternating; best / median)")
    print(f"   repeat={args.repeat}. 'core' = selection rate, TPR, FPR per group + DI + DPD + EOD;")
    print("   'all' = the six per-group metrics (adds FNR, precision, accuracy).")
    header = (
        f"   {'rows':>5} | {'read floor':>21} | {'ours core':>21} | {'x floor':>7} | {'ours all':>21} | {'x floor':>7}"
    )
    print(header)
    compare: dict[str, dict[str, Any]] = {}
    for name in [n for n in ("100k", "1M", "10M") if n in files]:
        res = measure("compare", files[name], repeat=args.repeat)
        compare[name] = res
        t = res["times"]
        floor, core, full = min(t["floor"]), min(t["core"]), min(t["all"])
        med = {k: statistics.median(v) for k, v in t.items()}
        print(
            f"   {name:>5} | {_ms(floor)} / {_ms(med['floor'])} | {_ms(core)} / {_ms(med['core'])} | "
            f"{core / floor:6.2f}x | {_ms(full)} / {_ms(med['all'])} | {full / floor:6.2f}x"
        )
    b = compare["10M"]["core_breakdown"]
    print(
        f"   10M core, best run: read+count {b['read_and_count_s'] * 1000:.0f} ms, "
        f"fairlearn on the cell table {b['fairlearn_s'] * 1000:.0f} ms; first call in a fresh "
        f"process (imports pandas/fairlearn/scikit-learn) {compare['10M']['first_call_s']:.2f} s"
    )

    print("\n2. ours vs stock fairlearn on the raw rows (all six metrics + DI + DPD + EOD)")
    print("   stock = MetricFrame + demographic_parity_ratio/difference + equalized_odds_difference,")
    print("   per attribute, on a pandas DataFrame already in memory (its read is not counted).")
    print("   ours: best of 3, reading the Parquet file included.")
    print(f"   {'rows':>5} | {'stock fairlearn':>15} | {'ours (incl. read)':>17} | {'speed-up':>8} | max |diff|")
    stock: dict[str, dict[str, Any]] = {}
    for name in () if args.no_stock else ("100k", "1M"):
        res = measure("stock", files[name])
        stock[name] = res
        print(
            f"   {name:>5} | {_ms(res['stock_s']):>15} | {_ms(res['ours_s']):>17} | "
            f"{res['stock_s'] / res['ours_s']:7.0f}x | {res['max_abs_diff']:.2e}"
        )

    print("\n3. peak resident memory (VmHWM of a fresh process doing only that), 10M rows")
    imports = measure("rss_imports", files["10M"])
    floor_rss = measure("rss_floor", files["10M"])
    core_rss = measure("rss_core", files["10M"])
    all_rss = measure("rss_all", files["10M"])
    print(f"   imports only (pyarrow, pandas, fairlearn, scikit-learn): {imports['vmhwm_mb']:6.0f} MB")
    print(f"   pyarrow read of the 5 columns:                          {floor_rss['vmhwm_mb']:6.0f} MB")
    print(f"   ours, core:                                             {core_rss['vmhwm_mb']:6.0f} MB")
    print(f"   ours, all metrics:                                      {all_rss['vmhwm_mb']:6.0f} MB")

    stream = None
    if "100M" in files:
        print("\n4. 100M rows, streamed in record batches (pyarrow.dataset); fresh process per run,")
        print("   best time of 2 runs, highest peak RSS of the 2; imports not timed")
        runs = [(measure("stream_floor", files["100M"]), measure("rss_core", files["100M"])) for _ in range(2)]
        read_only = min((r[0] for r in runs), key=lambda r: r["seconds"])
        stream = min((r[1] for r in runs), key=lambda r: r["seconds"])
        stream["vmhwm_mb"] = max(r[1]["vmhwm_mb"] for r in runs)
        print(f"   streamed read only: {read_only['seconds']:6.2f} s, peak RSS {read_only['vmhwm_mb']:5.0f} MB")
        print(
            f"   ours, core:         {stream['seconds']:6.2f} s, peak RSS {stream['vmhwm_mb']:5.0f} MB "
            f"({stream['rows'] / stream['seconds'] / 1e6:.0f}M rows/s; imports before it took "
            f"{stream['import_s']:.1f} s)"
        )

    core10 = min(compare["10M"]["times"]["core"])
    floor10 = min(compare["10M"]["times"]["floor"])
    all10 = min(compare["10M"]["times"]["all"])
    worst_diff = max((r["max_abs_diff"] for r in stock.values()), default=None)
    print("\ntargets")
    checks = [
        (f"10M core audit <= {TARGET_10M_S} s (best of {args.repeat})", core10 <= TARGET_10M_S, f"{core10:.3f} s"),
        (f"10M core audit <= {TARGET_RATIO}x read floor", core10 <= TARGET_RATIO * floor10, f"{core10 / floor10:.2f}x"),
        (f"10M all-metrics audit <= {TARGET_10M_S} s", all10 <= TARGET_10M_S, f"{all10:.3f} s"),
        (
            f"10M all-metrics audit <= {TARGET_RATIO}x read floor",
            all10 <= TARGET_RATIO * floor10,
            f"{all10 / floor10:.2f}x",
        ),
        (
            f"10M peak RSS <= {TARGET_RSS_10M_MB} MB",
            core_rss["vmhwm_mb"] <= TARGET_RSS_10M_MB,
            f"{core_rss['vmhwm_mb']:.0f} MB",
        ),
    ]
    if worst_diff is not None:
        checks.append(("equal to stock fairlearn to 1e-12", worst_diff <= 1e-12, f"{worst_diff:.1e}"))
    if stream is not None:
        checks.append(
            (
                f"100M streamed peak RSS <= {TARGET_RSS_100M_MB} MB",
                stream["vmhwm_mb"] <= TARGET_RSS_100M_MB,
                f"{stream['vmhwm_mb']:.0f} MB",
            )
        )
    for text, ok, value in checks:
        print(f"   {_verdict(ok)}  {text}: {value}")
    print("load average at end (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if not args.keep and not args.data_dir:
        for file in files.values():
            file.unlink(missing_ok=True)
        data_dir.rmdir()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="where to write (and reuse) the Parquet files")
    parser.add_argument("--quick", action="store_true", help="skip the 100M-row streaming run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the generated temporary files")
    parser.add_argument(
        "--no-stock", action="store_true", help="skip stock fairlearn on raw rows (about 5 minutes at 1M)"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(child(args.measure, args.file, args.repeat)))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
