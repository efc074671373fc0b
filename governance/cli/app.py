"""``governance``: the command line of the model governance pipeline (``governance.cli.app``
builds its parser; :func:`main` is the console script ``governance``).

Every command reads the governance database from ``GOVERNANCE_DB_URL`` (default: a SQLite
file under the project's ``data/`` folder). Run ``governance COMMAND --help`` for details;
the exit codes are in :mod:`governance.cli.common`.

Each command group is one module with ``register(subparsers, common)``, added in the order of
:data:`COMMAND_MODULES` (the order ``governance --help`` lists them). None of them imports
anything heavy at module level: each command imports what it needs (SQLAlchemy, the store,
cards …) when it runs, so ``--help`` loads no database layer and a status lookup loads little
more than SQLAlchemy (``benchmarks/cli_latency.py`` times them).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from governance import config
from governance.cli import airflow, archive, audit, bias, registry, usage
from governance.cli.common import Common, run

COMMAND_MODULES = (registry, audit, bias, archive, airflow, usage)
"""Command groups, in ``--help`` order; :mod:`.audit` comes before :mod:`.archive`, whose
commands hang under ``governance audit``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="governance",
        description="Model governance: register models, move them through their lifecycle, "
        "and query or verify the hash-chained audit trail.",
        epilog=f"database: GOVERNANCE_DB_URL (now {config.db_url()})",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = Common()
    for module in COMMAND_MODULES:
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``governance ARGV`` and return its exit status."""
    return run(build_parser, argv)
