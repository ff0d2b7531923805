"""Per-iterate metrics (pure jnp): objective, gap to f*, gradient norm, distance to x*."""

from __future__ import annotations

from optlab._jax import jax, jnp


def make_metrics(problem):
    """A function x -> (loss, gap, grad_norm, dist) for ``problem``.

    ``loss`` is the deterministic objective (population loss for stochastic problems),
    ``grad_norm`` the Euclidean norm of its true gradient, ``dist`` the distance to the
    nearest known minimiser; ``gap`` and ``dist`` are NaN where f* or x* is unknown.
    """
    value_and_grad = jax.value_and_grad(problem.value)
    f_star = problem.f_star
    x_star = None if problem.x_star is None else jnp.atleast_2d(jnp.asarray(problem.x_star))

    def metrics(x):
        loss, g = value_and_grad(x)
        nan = jnp.full((), jnp.nan, loss.dtype)
        gap = nan if f_star is None else loss - f_star
        gn = jnp.sqrt(jnp.sum(g * g))
        if x_star is None:
            dist = nan
        else:
            diff = x[None, :] - x_star.astype(x.dtype)
            dist = jnp.min(jnp.sqrt(jnp.sum(diff * diff, axis=-1)))
        return loss, gap, gn, dist

    return metrics


def all_finite(tree):
    """True when every entry of every leaf is finite."""
    leaves = jax.tree_util.tree_leaves(tree)
    ok = jnp.asarray(True)
    for leaf in leaves:
        ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok
