"""The ``optlab`` command's settings for its own process (never applied by the library).

float64 on, the host CPU exposed as several XLA devices (a sweep is sharded over them, one
device per core) and JAX's persistent compilation cache on, so a repeated command does not
recompile. Environment: ``OPTLAB_CACHE_DIR`` (a folder, or ``off``), ``OPTLAB_HOST_DEVICES``.

Before JAX is imported the settings go in as JAX's own environment variables, so
``optlab --help`` stays instant; after (a test driving the app in-process) through
``jax.config``, where the device count can no longer change once the backend exists.
"""

from __future__ import annotations

import contextlib
import os
import sys


def cache_dir() -> str | None:
    """The persistent compilation cache folder (None: off)."""
    value = os.environ.get("OPTLAB_CACHE_DIR", "")
    if value.lower() in {"off", "0", "none", "false"}:
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "optlab", "jax")


def _settings() -> dict[str, object]:
    """JAX option -> value for this process."""
    settings: dict[str, object] = {"jax_enable_x64": True}
    cache = cache_dir()
    if cache:
        settings["jax_compilation_cache_dir"] = cache
        settings["jax_persistent_cache_min_compile_time_secs"] = 0.0
        settings["jax_persistent_cache_min_entry_size_bytes"] = 0
    n = int(os.environ.get("OPTLAB_HOST_DEVICES", os.cpu_count() or 1))
    if n > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        settings["jax_num_cpu_devices"] = n
    return settings


def environment_notes() -> list[str]:
    """One line for each of the user's JAX variables optlab overrides."""
    x64 = os.environ.get("JAX_ENABLE_X64")
    if x64 is not None and x64.strip().lower() in {"0", "false", "no", "off", ""}:
        return [
            f"note: JAX_ENABLE_X64={x64} is overridden: optlab computes in float64 "
            "(for single precision use --dtype float32)"
        ]
    return []


def configure_process() -> None:
    """Apply :func:`_settings` to this process (the command line's, never a user's)."""
    settings = _settings()
    if "jax" not in sys.modules:
        for name, value in settings.items():  # the user's own JAX_* variables win...
            os.environ.setdefault(name.upper(), str(value))
        os.environ["JAX_ENABLE_X64"] = "1"  # ...except this one: results are float64
        return
    import jax

    for name, value in settings.items():
        # RuntimeError: the backend is up already (device count); AttributeError: older JAX
        with contextlib.suppress(RuntimeError, AttributeError):
            jax.config.update(name, value)
