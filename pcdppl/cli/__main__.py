"""``python -m pcdppl.cli``."""

import sys

from . import main

sys.exit(main())
