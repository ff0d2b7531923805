"""The loss on a 2-D mesh, for contour plots (jnp, vmapped)."""

from __future__ import annotations

import numpy as np

from optlab._jax import jax, jnp


def mesh_values(value_fn, box, n: int):
    """(X, Y, Z): ``value_fn`` on an n x n mesh over box = (xmin, xmax, ymin, ymax)."""
    xs = np.linspace(box[0], box[1], n)
    ys = np.linspace(box[2], box[3], n)
    X, Y = np.meshgrid(xs, ys)
    pts = jnp.stack([jnp.asarray(X.ravel()), jnp.asarray(Y.ravel())], axis=-1)
    Z = jax.jit(jax.vmap(value_fn))(pts)
    return X, Y, np.asarray(Z).reshape(X.shape)


def plot_box(problem, trace_df, margin: float = 0.1):
    """The problem's window, or the paths' extent with a margin when it has none."""
    if problem.plot_box is not None:
        return tuple(float(v) for v in problem.plot_box)
    x, y = trace_df["x_0"].to_numpy(float), trace_df["x_1"].to_numpy(float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    lo = np.array([x.min(), y.min()])
    hi = np.array([x.max(), y.max()])
    if problem.x_star is not None:
        stars = np.atleast_2d(np.asarray(problem.x_star))
        lo, hi = np.minimum(lo, stars.min(0)), np.maximum(hi, stars.max(0))
    pad = np.maximum((hi - lo) * margin, 1e-3)
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def landscape_for(problem, trace_df, n: int = 200) -> dict:
    """Everything a trajectory plot needs, as plain arrays (plots never import JAX)."""
    box = plot_box(problem, trace_df)
    X, Y, Z = mesh_values(problem.value, box, n)
    stars = None if problem.x_star is None else np.atleast_2d(np.asarray(problem.x_star))
    return {"X": X, "Y": Y, "Z": Z, "box": box, "x_star": stars, "f_star": problem.f_star}
