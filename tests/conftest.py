import os
import sys

# Make `tests/helpers.py` importable as `helpers` from any test module.
sys.path.insert(0, os.path.dirname(__file__))

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", False)

# Hypothesis: the "ci" profile is derandomized (the examples are a fixed function of each test,
# so a run is reproducible and CI cannot fail on a newly drawn example) and is the default, for
# `python -m pytest` as CI runs it. HYPOTHESIS_PROFILE=explore draws fresh random examples
# (more of them) to look for new failures locally.
settings.register_profile("ci", derandomize=True, database=None, max_examples=20,
                          deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=200, deadline=None)
_profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    _profile = "ci"
settings.load_profile(_profile)


@pytest.fixture
def chunk_spy(monkeypatch):
    """``chunk_spy(chunk_states=None)`` puts a :class:`chunking.ChunkSpy` in front of
    ``log_sum_exp_states`` (forcing ``chunk_states`` states per chunk when given) and returns
    it; it records how many chunks each enumeration used."""
    import chunking

    return lambda chunk_states=None: chunking.install(monkeypatch, chunk_states)
