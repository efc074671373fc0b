"""Parse time of every DAG file, as the DAG processor sees it (Airflow already imported).

Each file is parsed in a fresh process that has imported ``airflow.sdk`` first; the figure
is the median of ``--repeat`` runs of ``runpy.run_path``. Target: ≤ 0.2 s per file.

    .venv/bin/python benchmarks/dag_parse.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import runpy, sys, time
# The DAG processor forks its file parsers from a process that has already imported Airflow,
# its models and the providers' operators; load the same before timing our own code.
import airflow.sdk, airflow.models, airflow.dag_processing.dagbag
import airflow.providers.standard.operators.hitl, airflow.providers.standard.operators.trigger_dagrun
t = time.perf_counter()
runpy.run_path(sys.argv[1])
print(time.perf_counter() - t)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    worst = 0.0
    for path in sorted((REPO / "dags").glob("*.py")):
        times = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True)
            times.append(float(out.stdout.strip().splitlines()[-1]))
        median = statistics.median(times)
        worst = max(worst, median)
        print(
            f"{path.name:<24} median {median * 1000:7.1f} ms   (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})"
        )
    print(f"slowest file: {worst * 1000:.1f} ms (target ≤ 200 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
