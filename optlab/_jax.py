"""One place that configures JAX before any array exists.

Every optlab module that needs JAX imports it from here, so that
- float64 is on by default (the papers use eps = 1e-50 and x0 = 1e-10),
- the host CPU is exposed as several XLA devices (a sweep is sharded over them,
  one device per core), which must be set before JAX initialises its backend,
- the persistent compilation cache is on, so a repeated command does not recompile.

Environment: ``OPTLAB_CACHE_DIR`` (a folder, or ``off``), ``OPTLAB_HOST_DEVICES`` (an int).
"""

from __future__ import annotations

import os
import sys


def _host_device_flag() -> None:
    if "jax" in sys.modules:  # too late: the backend may already exist
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags:
        return
    n = int(os.environ.get("OPTLAB_HOST_DEVICES", os.cpu_count() or 1))
    if n > 1:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _cache_dir() -> str | None:
    value = os.environ.get("OPTLAB_CACHE_DIR", "")
    if value.lower() in {"off", "0", "none", "false"}:
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "optlab", "jax")


_host_device_flag()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_enable_x64", True)
_cache = _cache_dir()
if _cache:
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

__all__ = ["jax", "jnp"]
