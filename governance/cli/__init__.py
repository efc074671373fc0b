"""``governance``: the command line, one module per command group (parser in :mod:`.app`,
shared helpers and the ``register(subparsers, common)`` contract in :mod:`.common`).

:func:`main` is the console script ``governance``; ``python -m governance.cli`` runs it too.
It imports :mod:`.app` when called, so that importing one command module (``python -m
governance.cli.bias``, ``governance.cli.common``) does not load every other one.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``governance ARGV`` and return its exit status."""
    from governance.cli.app import main as run

    return run(argv)
