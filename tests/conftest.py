"""Shared test setup: the test process is configured like the ``optlab`` command's (float64,
host devices; no compilation cache), and strict dtype promotion holds for our code.

Importing optlab configures nothing (tests/test_library.py checks that in a fresh process),
so the test process does it here, before JAX is imported.

optax itself does not run under strict promotion; wrap calls into it in
``with jax.numpy_dtype_promotion("standard"):``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPTLAB_CACHE_DIR", "off")

from optlab.cli._process import configure_process  # noqa: E402

configure_process()

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield
