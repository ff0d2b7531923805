"""Shared test setup: float64 on (via optlab._jax), strict dtype promotion for our code.

optax itself does not run under strict promotion; wrap calls into it in
``with jax.numpy_dtype_promotion("standard"):``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPTLAB_CACHE_DIR", "off")

import jax  # noqa: E402
import pytest  # noqa: E402

import optlab._jax  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield
