import os
import sys

# Make `tests/helpers.py` importable as `helpers` from any test module.
sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", False)
