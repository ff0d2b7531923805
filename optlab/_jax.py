"""The one module that imports JAX for optlab. Importing it changes nothing global: no JAX
option, no environment variable, no cache folder.

optlab computes in float64 by default (the papers use eps = 1e-50 and x0 = 1e-10).
:func:`float64` is a scoped context in which JAX computes in 64 bits; the library's entry
points (``api.run``, ``api.trajectory``) enter it themselves, so a user's process keeps its
own ``jax_enable_x64`` setting. The ``optlab`` command configures its own process instead
(:mod:`optlab.cli._process`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def float64():
    """A context in which JAX computes in float64, for this thread only, undone on exit."""
    if hasattr(jax, "enable_x64"):  # JAX >= 0.7
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older JAX

    return enable_x64()


def in_float64(fn):
    """Decorator: ``fn`` runs inside :func:`float64` (a library entry point)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with float64():
            return fn(*args, **kwargs)

    return wrapper


def x64_enabled() -> bool:
    """Whether float64 arrays can exist here (globally or inside :func:`float64`)."""
    return bool(jax.config.jax_enable_x64)


__all__ = ["float64", "in_float64", "jax", "jnp", "x64_enabled"]
