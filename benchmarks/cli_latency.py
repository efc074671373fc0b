"""CLI latency benchmark: wall time of ``governance status NAME``, ``list`` and ``audit query``.

Seeds a throwaway SQLite governance database (``--events`` backdated audit events, ``--models``
model versions: ``tests/support/cli_seed.py``), then runs each command ``--repeat`` times as a
fresh process of the console script ``.venv/bin/governance`` and prints the wall time p50 and
min and the CPU time (user + sys) p50 of the process, next to the target: a status lookup
answers in < 1 s (aim: 0.3-0.5 s). Two floors are timed the same way: ``python -c pass`` and
``python -c "import sqlalchemy"`` (what any command that opens the database must load).

Each command runs in two bytecode modes:

* ``as-is``: the environment as inherited. With ``PYTHONDONTWRITEBYTECODE=1`` and a venv that
  holds no ``__pycache__`` (the development machine), every import compiles its module from
  source on every run.
* ``cached``: ``PYTHONDONTWRITEBYTECODE`` unset and ``PYTHONPYCACHEPREFIX`` pointing at a
  temporary folder warmed by one run: what an installed package (``pip install`` writes the
  ``.pyc`` files) or the Docker image sees. Nothing is written into the venv.

``--importtime`` also prints the biggest imports of ``governance status NAME``
(``python -X importtime``, cumulative, cached mode).

    .venv/bin/python benchmarks/cli_latency.py                       # both modes, 15 repeats
    .venv/bin/python benchmarks/cli_latency.py --repeat 5 --mode cached
    .venv/bin/python benchmarks/cli_latency.py --importtime
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.cli_seed import seed_cli_db  # noqa: E402

TARGET_S = 1.0
AIM_S = 0.5


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def governance() -> list[str]:
    script = Path(sys.executable).with_name("governance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "governance.cli"]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one run of ``argv``; its output is discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench(argv: list[str], env: dict[str, str], repeat: int) -> dict[str, float]:
    run_once(argv, env)  # warm-up: the OS page cache, and the bytecode cache in "cached" mode
    walls, cpus = zip(*(run_once(argv, env) for _ in range(repeat)), strict=True)
    return {"p50": statistics.median(walls), "min": min(walls), "cpu": statistics.median(cpus)}


def mode_env(base: dict[str, str], mode: str, pycache: Path) -> dict[str, str]:
    env = dict(base)
    if mode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def top_imports(argv: list[str], env: dict[str, str], n: int) -> list[tuple[float, str]]:
    """The ``n`` biggest top-level imports (cumulative ms): those of ``governance.cli`` itself
    and those its commands make at run time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True, check=False
    )
    rows: list[tuple[float, int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((int(cumulative) / 1000, depth, name.strip()))
    top = [(ms, name) for ms, depth, name in rows if depth == 0]
    return sorted(top, reverse=True)[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per command (default 15)")
    parser.add_argument("--events", type=int, default=10_000, help="audit events in the database (default 10,000)")
    parser.add_argument("--models", type=int, default=200, help="model versions in the database (default 200)")
    parser.add_argument("--mode", choices=("as-is", "cached", "both"), default="both")
    parser.add_argument("--importtime", action="store_true", help="also print the biggest imports of `status`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli-latency-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'governance.db'}"
        log(f"seeding {url}: {args.events:,} audit events, {args.models:,} model versions")
        name = seed_cli_db(url, events=args.events, models=args.models)
        base = {**os.environ, "GOVERNANCE_DB_URL": url}
        pycache = Path(tmp) / "pycache"
        commands = {
            f"governance status {name}": [*governance(), "status", name],
            "governance list": [*governance(), "list"],
            "governance audit query --limit 10": [*governance(), "audit", "query", "--limit", "10"],
            "floor: python -c pass": [sys.executable, "-c", "pass"],
            "floor: python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
        }
        modes = ("as-is", "cached") if args.mode == "both" else (args.mode,)
        print(
            f"Python {sys.version.split()[0]}, PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.repeat} runs per command"
        )
        print()
        print(f"| command | bytecode | wall p50 | wall min | CPU p50 | target < {TARGET_S:g} s (aim {AIM_S:g} s) |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
        for mode in modes:
            env = mode_env(base, mode, pycache)
            for label, argv in commands.items():
                log(f"{mode}: {label}")
                r = bench(argv, env, args.repeat)
                verdict = "" if label.startswith("floor") else ("met" if r["p50"] < TARGET_S else "MISSED")
                if verdict == "met" and r["p50"] < AIM_S:
                    verdict = "met, under the aim"
                print(
                    f"| `{label}` | {mode} | {r['p50'] * 1000:.0f} ms | {r['min'] * 1000:.0f} ms "
                    f"| {r['cpu'] * 1000:.0f} ms | {verdict} |"
                )
        if args.importtime:
            env = mode_env(base, "cached", pycache)
            # the console script run by this interpreter (``-m`` would put the cwd first on sys.path)
            script = governance()
            argv = [sys.executable, *(script if len(script) == 1 else script[1:]), "status", name]
            subprocess.run(argv, env=env, capture_output=True, check=False)  # warm the cache
            print()
            print(f"biggest imports of `governance status {name}` (cached bytecode, cumulative):")
            for ms, module in top_imports(argv[1:], env, 12):
                print(f"  {ms:8.1f} ms  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
