"""``python -m governance.embedded run``: the embedded default (see :mod:`.launcher`)."""

import sys

from governance.embedded.launcher import main

sys.exit(main())
