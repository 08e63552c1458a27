"""``python -m pcdppl``: the command line (same as the ``pcdppl`` script)."""

import sys

from .cli import main

sys.exit(main())
