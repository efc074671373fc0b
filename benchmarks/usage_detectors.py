"""Latency of the built-in usage detectors (content classifier, PII detector), in this process.

For 100 B, 1 KB and 4 KB of text, prints p50 / p99 per call next to the targets (content:
0.1 ms for 100 B, 1 ms for 4 KB; PII: 0.1 ms for 100 B, 5 ms for 4 KB, aiming at 1 ms):

- content, ``prose``: slices of the repository's README (ordinary technical English);
  ``near misses``: the benign lines of tests/usage/corpus/content.tsv ("kill the process",
  "shoot me an email", …), one sentence each, the worst case for the rules' anchor words;
  ``flagged``: every line of that corpus, most texts then match.
- PII, ``prose, no PII`` as above; ``near misses, no PII``: the ``none`` lines of
  tests/usage/corpus/pii.tsv (dates, versions, Luhn-invalid numbers, invalid IBANs, …), the
  worst case for the candidate expressions; ``with PII``: prose with a line of PII every
  ~250 bytes.

Each cell times ``--repeat`` calls cycling over 50 different texts of that size, after one
untimed pass (which loads phonenumbers' metadata for the regions in the texts, a one-off cost of
a few milliseconds per region); the garbage collector is paused while a cell runs. The time to
build each detector (import and compile, once per process) is printed first.

    .venv/bin/python benchmarks/usage_detectors.py
    .venv/bin/python benchmarks/usage_detectors.py --repeat 20000
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CORPUS = REPO / "tests" / "usage" / "corpus"
SIZES = (100, 1024, 4096)
TEXTS_PER_CELL = 50
# (detector, size) → target for the median call, in ms
TARGETS = {("content", 100): 0.1, ("content", 4096): 1.0, ("pii", 100): 0.1, ("pii", 4096): 5.0}


def corpus(name: str) -> list[tuple[str, str]]:
    rows = []
    for raw in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            label, _, text = raw.partition("\t")
            rows.append((label, text))
    return rows


def sentences(pool: list[str], size: int, rng: random.Random) -> str:
    out: list[str] = []
    while sum(len(s) + 2 for s in out) < size:
        out.append(rng.choice(pool))
    return ". ".join(out)[:size]


def prose(text: str, size: int, rng: random.Random) -> str:
    start = rng.randrange(0, len(text) - size)
    return text[start : start + size]


def with_pii(text: str, pii: list[str], size: int, rng: random.Random) -> str:
    parts, length = [], 0
    while length < size:
        piece = rng.choice(pii) + ". " + prose(text, min(250, size // 2), rng) + " "
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:size]


def texts_for(size: int, seed: int) -> dict[tuple[str, str], list[str]]:
    rng = random.Random(seed)
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    content_rows, pii_rows = corpus("content.tsv"), corpus("pii.tsv")
    benign = [t for label, t in content_rows if label == "benign"]
    everything = [t for _, t in content_rows]
    no_pii = [t for label, t in pii_rows if label == "none"]
    some_pii = [t for label, t in pii_rows if label != "none"]

    def many(make: Callable[[], str]) -> list[str]:
        return [make() for _ in range(TEXTS_PER_CELL)]

    return {
        ("content", "prose"): many(lambda: prose(readme, size, rng)),
        ("content", "near misses"): many(lambda: sentences(benign, size, rng)),
        ("content", "flagged"): many(lambda: sentences(everything, size, rng)),
        ("pii", "prose, no PII"): many(lambda: prose(readme, size, rng)),
        ("pii", "near misses, no PII"): many(lambda: sentences(no_pii, size, rng)),
        ("pii", "with PII"): many(lambda: with_pii(readme, some_pii, size, rng)),
    }


def timed(call: Callable[[str], object], texts: list[str], repeat: int) -> tuple[float, float]:
    """(p50, p99) in ms of ``repeat`` calls cycling over ``texts`` (after one untimed pass)."""
    for text in texts:
        call(text)
    samples = []
    gc.collect()
    gc.disable()
    try:
        for i in range(repeat):
            text = texts[i % len(texts)]
            start = time.perf_counter_ns()
            call(text)
            samples.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    samples.sort()
    return statistics.median(samples) / 1e6, samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2000, help="timed calls per cell (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated texts (default 1)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    start = time.perf_counter()
    from governance.usage.detectors import builtin_content_classifier, builtin_pii_detector

    classifier = builtin_content_classifier()
    built_content = time.perf_counter() - start
    start = time.perf_counter()
    detector = builtin_pii_detector()
    built_pii = time.perf_counter() - start
    calls: dict[str, Callable[[str], object]] = {"content": classifier.categories, "pii": detector.kinds}

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"usage detectors: Python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.2f}; "
        f"--repeat {args.repeat} calls per cell over {TEXTS_PER_CELL} texts"
    )
    print(f"built in: content classifier {built_content * 1e3:.0f} ms, PII detector {built_pii * 1e3:.0f} ms")
    print()
    print(f"{'detector':<9} {'size':>6}  {'text':<20} {'p50 ms':>8} {'p99 ms':>8}  target (p50)")
    for size in SIZES:
        for (name, kind), texts in texts_for(size, args.seed + size).items():
            p50, p99 = timed(calls[name], texts, args.repeat)
            target = TARGETS.get((name, size))
            verdict = "" if target is None else f"<= {target:g} ms {'ok' if p50 <= target else 'OVER'}"
            label = f"{size} B" if size < 1024 else f"{size // 1024} KB"
            print(f"{name:<9} {label:>6}  {kind:<20} {p50:>8.3f} {p99:>8.3f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
