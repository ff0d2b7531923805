"""Per-iterate metrics (pure jnp): objective, gap to f*, gradient norm, distance to x*; and
the steps-to-tolerance ladder read off recorded traces (NumPy).

JAX is imported inside the jnp functions so that the tables (``optlab.io.frames``) can use
the ladder without it."""

from __future__ import annotations

import numpy as np


def flatten(x):
    """The parameters as one vector (an array is raveled; a pytree's leaves concatenated in
    ``jax.tree_util`` order)."""
    from optlab._jax import jax, jnp

    return jnp.concatenate([jnp.ravel(v) for v in jax.tree_util.tree_leaves(x)])


def make_metrics(problem):
    """A function x -> (loss, gap, grad_norm, dist) for ``problem``.

    ``loss`` is the deterministic objective (population loss for stochastic problems),
    ``grad_norm`` the Euclidean norm of its true gradient, ``dist`` the distance to the
    nearest known minimiser; ``gap`` and ``dist`` are NaN where f* or x* is unknown.
    Parameters may be a pytree (then ``x_star`` is one minimiser of the same structure).
    """
    from optlab._jax import jax, jnp

    value_and_grad = jax.value_and_grad(problem.value)
    f_star = problem.f_star
    if problem.x_star is None:
        x_star = None
    elif is_pytree(problem.x0):
        x_star = flatten(problem.x_star)[None, :]
    else:
        x_star = jnp.atleast_2d(jnp.asarray(problem.x_star))

    def metrics(x):
        loss, g = value_and_grad(x)
        nan = jnp.full((), jnp.nan, loss.dtype)
        gap = nan if f_star is None else loss - f_star
        gf = flatten(g)
        gn = jnp.sqrt(jnp.sum(gf * gf))
        if x_star is None:
            dist = nan
        else:
            xf = flatten(x)
            diff = xf[None, :] - jnp.reshape(x_star, (x_star.shape[0], -1)).astype(xf.dtype)
            dist = jnp.min(jnp.sqrt(jnp.sum(diff * diff, axis=-1)))
        return loss, gap, gn, dist

    return metrics


def is_pytree(x0) -> bool:
    """True for a problem whose parameters are a pytree (a dict or list of arrays, as an
    MLP's layers) rather than one array; its ``x_star`` then has the same structure."""
    return not hasattr(x0, "shape")


def all_finite(tree):
    """True when every entry of every leaf is finite."""
    from optlab._jax import jax, jnp

    leaves = jax.tree_util.tree_leaves(tree)
    ok = jnp.asarray(True)
    for leaf in leaves:
        ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok


# ---- steps to tolerance (NumPy, on recorded traces) -------------------------------------
# The one declared ladder: runs.csv gets ``steps_<metric>_<tol>`` for each of these.
TOLERANCES = tuple(10.0**-k for k in range(1, 9))  # 1e-1 ... 1e-8
TOLERANCE_METRICS = ("gap", "grad_norm", "dist")


def tolerance_name(tol: float) -> str:
    """``1e-3`` for 0.001: the column suffix (short, and reads back as the number)."""
    mantissa, exponent = f"{tol:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def steps_column(metric: str, tol: float) -> str:
    return f"steps_{metric}_{tolerance_name(tol)}"


def first_step_below(steps, values, tol: float):
    """Per row of ``values`` (runs, records): the first recorded step whose value is <= tol,
    NaN when no recorded value is (a NaN value - diverged or undefined - never counts).
    The resolution is the recording interval: the true first step lies in
    (previous record, returned record]."""
    values = np.asarray(values, dtype=float)
    steps = np.broadcast_to(np.asarray(steps, dtype=float), values.shape)
    hit = values <= tol  # False for NaN
    first = np.argmax(hit, axis=1)
    reached = hit.any(axis=1)
    return np.where(reached, steps[np.arange(len(values)), first], np.nan)
