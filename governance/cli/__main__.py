"""``python -m governance.cli``: the ``governance`` command (:func:`governance.cli.main`)."""

import sys

from governance.cli import main

sys.exit(main())
