"""Shared test setup: the test process is configured like the ``optlab`` command's (float64,
host devices), and strict dtype promotion holds for our code.

Compilation cache: one fresh folder per test session, shared by the xdist workers and the
``optlab`` processes the tests start, and removed at the end; many tests build the same
programs (a CLI run and its library twin, a protocol and its wrong-setting copy), and XLA
compiles each once. Nothing from an earlier session is reused (``OPTLAB_CACHE_DIR=off``
turns it off; tests that are about the cache set their own).

Importing optlab configures nothing (tests/test_library.py checks that in a fresh process),
so the test process does it here, before JAX is imported.

optax itself does not run under strict promotion; wrap calls into it in
``with jax.numpy_dtype_promotion("standard"):``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# xdist's controller imports this file before it starts the workers, which inherit the folder
_SESSION_CACHE = os.environ.get("OPTLAB_TEST_SESSION_CACHE")
if _SESSION_CACHE is None and "OPTLAB_CACHE_DIR" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="optlab-test-cache-")
    os.environ["OPTLAB_TEST_SESSION_CACHE"] = _SESSION_CACHE
if _SESSION_CACHE:
    os.environ.setdefault("OPTLAB_CACHE_DIR", _SESSION_CACHE)

from optlab.cli._process import configure_process  # noqa: E402

configure_process()

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _strict_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield


def pytest_unconfigure(config):
    """The session's cache folder goes with the process that made it (not with a worker)."""
    if _SESSION_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)
