"""``governance.cli.common``: what every command module of the CLI shares.

The registration contract: each command module (:mod:`.registry`, :mod:`.audit`,
:mod:`.bias`, :mod:`.archive`, :mod:`.airflow`) has ``register(subparsers, common)``, which
adds its command group to the top-level ``subparsers``; ``common`` (:class:`Common`) carries
the groups that another module's commands hang under (``governance audit …``).

Beside it: the exit codes, opening the governance database (:func:`open_engine`,
:func:`open_store`; :func:`run` disposes what they opened), JSON output, error lines, and
:func:`run`, which parses, dispatches and handles a reader that went away.

Exit status: 0 ok, 1 a refused or failed operation (``audit verify`` found a bad event, a
model is not found, an illegal transition), 2 a usage or configuration error, 130 Ctrl-C,
and 141 when the reader of stdout went away, e.g. ``governance audit query --json | head``:
the command stops quietly, with no traceback, and exits as a shell reports a command that
SIGPIPE stopped (128 + 13, what ``seq 1000000 | head`` gives under ``set -o pipefail``).

Nothing heavy is imported here: SQLAlchemy and the store are imported when a command opens
the database, so ``--help`` loads no database layer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from governance.errors import GovernanceError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from governance.store import GovernanceStore

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""Exit status when nobody reads stdout any more (128 + SIGPIPE, as a shell reports for a
command killed by the signal; Python ignores SIGPIPE, so we stop on the write error)."""

ERR_NOT_INITIALISED = "the governance database at {url} is not initialised; run `governance init` first"
ERR_NO_AUDIT_GROUP = "governance.cli.audit must register before {module}: `governance audit` does not exist yet"

SubParsers = Any
"""What ``ArgumentParser.add_subparsers()`` returns (argparse's class for it is private)."""


@dataclass
class Common:
    """The second argument of every ``register(subparsers, common)``: groups other modules add to."""

    audit: SubParsers | None = None
    """The subparsers of ``governance audit``; :func:`governance.cli.audit.register` sets it."""

    def audit_group(self, module: str) -> SubParsers:
        """``governance audit``'s subparsers, for ``module`` to add its commands to."""
        if self.audit is None:
            raise RuntimeError(ERR_NO_AUDIT_GROUP.format(module=module))
        return self.audit


# ----------------------------------------------------------------------------- the database

_ENGINES: list[Engine] = []
"""Engines the running command opened; :func:`run` disposes them (closing pooled connections)."""


def open_engine(*, require_schema: bool = True) -> Engine:
    """An engine on ``GOVERNANCE_DB_URL``; with ``require_schema``, a database that
    ``governance init`` has not set up is refused (:data:`ERR_NOT_INITIALISED`)."""
    from sqlalchemy import inspect

    from governance.store import make_engine

    engine = make_engine()
    _ENGINES.append(engine)
    if require_schema and not inspect(engine).has_table("audit_head"):
        raise GovernanceError(ERR_NOT_INITIALISED.format(url=safe_url(engine.url)))
    return engine


def open_store() -> GovernanceStore:
    """The governance store on an initialised database."""
    from governance.store import GovernanceStore

    return GovernanceStore(open_engine())


def dispose_engines() -> None:
    while _ENGINES:
        _ENGINES.pop().dispose()


def safe_url(url: Any) -> str:
    """A SQLAlchemy URL as text, its password hidden."""
    return str(url.render_as_string(hide_password=True))


# ----------------------------------------------------------------------------- output


def print_json(data: Any, *, sort_keys: bool = True) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=sort_keys, default=str)
    sys.stdout.write("\n")


def print_error(message: object) -> None:
    print(f"error: {message}", file=sys.stderr)


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays the command's result)."""
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- running a command


def run(build_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None) -> int:
    """Parse ``argv`` with the parser ``build_parser`` makes, run the chosen command and
    return its exit status; a closed stdout (``| head``) ends quietly with
    :data:`EXIT_BROKEN_PIPE`, even while ``--help`` prints."""
    try:
        try:
            return _dispatch(build_parser(), argv)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # a broken pipe shows here, not in the interpreter's exit flush
    except BrokenPipeError:
        if not stdout_gone():
            raise  # some other pipe or socket (S3, Airflow, a worker): a real error
        stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GovernanceError as exc:
        print_error(exc)
        return EXIT_USAGE if not isinstance(exc, _fail_errors()) else EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        dispose_engines()


def _fail_errors() -> tuple[type[Exception], ...]:
    from governance.errors import AlreadyRegisteredError, IllegalTransitionError, ModelNotFoundError

    return (AlreadyRegisteredError, IllegalTransitionError, ModelNotFoundError)


def stdout_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream (tests)
        return False
    import select

    if not hasattr(select, "poll"):  # Windows: trust the error
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def stdout_to_devnull() -> None:
    """Point stdout's file descriptor at /dev/null, so that what is still buffered in
    ``sys.stdout`` is flushed somewhere at exit instead of raising BrokenPipeError again
    (the recipe of the Python docs, "Note on SIGPIPE" in the signal module)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
