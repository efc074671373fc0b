"""``governance``: the command line, one module per command group (see :mod:`.main`)."""

from governance.cli.app import main

__all__ = ["main"]
