"""The separable quadratic f(x) = 1/2 sum_i gamma_i x_i^2.

Default: the Aida paper's local-stability problem f(x) = 5 x^2 (gamma = 10) started at
x0 = 1e-10 (Zhang, Niwa, Kleijn, arXiv:2112.06125, Figs. 2-3). x* = 0, f* = 0. ``gamma`` may be a
tuple (one per coordinate); ``x0`` a number (every coordinate) or a tuple.
"""

from __future__ import annotations

import numpy as np

from optlab._jax import jnp
from problems.spec import Problem, ProblemEntry


def _vector(value, dim: int, what: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.size == 1:
        arr = np.full(dim, float(arr[0]))
    if arr.shape != (dim,):
        raise ValueError(f"quadratic: {what} has {arr.size} values for dim={dim}")
    return arr


def make(gamma=10.0, x0=1e-10, dim: int | None = None) -> Problem:
    if dim is None:
        dim = max(np.size(gamma), np.size(x0))
    if dim < 1:
        raise ValueError("quadratic: dim must be >= 1")
    g = _vector(gamma, dim, "gamma")
    if np.any(g <= 0):
        raise ValueError("quadratic: every gamma must be > 0 (a minimiser must exist)")
    gam = jnp.asarray(g)

    def loss(x, batch=None):
        del batch
        return 0.5 * jnp.sum(gam.astype(x.dtype) * x * x)

    return Problem(
        name="quadratic",
        loss=loss,
        x0=jnp.asarray(_vector(x0, dim, "x0")),
        x_star=jnp.zeros(dim),
        f_star=0.0,
        f_star_kind="global",
        tags=frozenset({"convex", "quadratic"}),
        reference="Zhang, Niwa, Kleijn, arXiv:2112.06125, Figs. 2-3 (f = 5x^2, x0 = 1e-10)",
        options={"gamma": tuple(g.tolist()), "x0": tuple(_vector(x0, dim, "x0").tolist())},
    )


ENTRIES = [
    ProblemEntry(
        id="quadratic",
        make=make,
        summary="1/2 sum gamma_i x_i^2; default 5x^2 from x0 = 1e-10 (Aida Figs. 2-3)",
        defaults={"gamma": 10.0, "x0": 1e-10, "dim": None},
        tags=frozenset({"convex", "quadratic"}),
    )
]
