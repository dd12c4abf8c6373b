import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/opspec.py and tests/specs_*.py

os.environ.setdefault("MPLBACKEND", "Agg")

try:  # property tests draw the same examples on every run (CI must not depend on luck);
    # HYPOTHESIS_PROFILE=explore draws new ones, to look for failures
    from hypothesis import settings

    settings.register_profile("repeatable", derandomize=True, database=None)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass


@pytest.fixture
def rng():
    return np.random.default_rng(0)
