"""The one module that imports JAX for optlab. Importing it changes nothing global: no JAX
option, no environment variable, no cache folder.

optlab computes in float64 by default (the papers use eps = 1e-50 and x0 = 1e-10).
:func:`float64` is a scoped context in which JAX computes in 64 bits; the library's entry
points (``api.run``, ``api.trajectory``) enter it themselves, so a user's process keeps its
own ``jax_enable_x64`` setting. The ``optlab`` command configures its own process instead
(:mod:`optlab.cli._process`).

What a manifest records about JAX lives here too, so the I/O layer never imports it:
:func:`environment` (backend, devices, float64, cache) and :class:`CompileClock`.
"""

from __future__ import annotations

import time

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


def backend_starts() -> bool:
    """Whether JAX can start the backends it is asked for (JAX_PLATFORMS)."""
    try:
        jax.devices()
    except Exception:  # noqa: BLE001 - any failure to start is the answer
        return False
    return True


def environment() -> dict:
    """The manifest entries every command records about where it ran (call it inside the
    computation's float64 scope, so ``x64`` says what the computation used)."""
    from optlab.io.outputs import git_hash, versions

    return {
        "versions": versions(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
        "compilation_cache": jax.config.jax_compilation_cache_dir,
        "git": git_hash(),
    }


class CompileClock:
    """Seconds JAX spent compiling while the ``with`` block ran, each instant counted once.

    JAX reports tracing, lowering, XLA compilation and cache retrieval as separate duration
    events, some nested in others or concurrent, and a cache hit also reports the compile
    time it saved; summing the events counted cache hits and overlaps (compile 5.0 s in a
    4.4 s run). The clock keeps each event's interval and measures their union, so
    ``seconds`` never exceeds the block's wall time."""

    def __init__(self):
        self._intervals: list[tuple[float, float]] = []
        self._start = self._stop = None

    @staticmethod
    def counts(event: str) -> bool:
        """Compile work: JAX's compile events and cache reads, never the 'time saved'."""
        if "compile_time_saved" in event:
            return False
        return "/compile/" in event or "cache_retrieval" in event

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if self.counts(event):
            end = time.perf_counter()
            self._intervals.append((end - duration, end))

    def __enter__(self):
        self._start, self._stop = time.perf_counter(), None
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        self._stop = time.perf_counter()
        jax.monitoring.unregister_event_duration_listener(self)
        return False

    @property
    def seconds(self) -> float:
        """The length of the union of the compile intervals inside the block."""
        lo = self._start if self._start is not None else float("-inf")
        hi = self._stop if self._stop is not None else time.perf_counter()
        total, reach = 0.0, lo
        for a, b in sorted(self._intervals):
            a, b = max(a, reach), min(b, hi)
            if b > a:
                total += b - a
                reach = b
        return total
