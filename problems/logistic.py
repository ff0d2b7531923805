"""l2-regularised logistic regression on generated data: a convex problem with two leaves.

f(w, b) = mean_i log(1 + exp(-s_i (u_i . w + b))) + l2/2 ||w||^2, labels s_i = +-1 drawn
from a logistic model with random true weights (``data_seed``). The bias is not
regularised (the usual choice); f is still strictly convex (its Hessian in b is the mean of
sigma'(z_i) > 0). The minimiser comes from a float64 Newton solve at construction (to a
gradient norm of about 1e-14), f* = f(x*).

Parameters: ``{"b": (1,), "w": (features,)}`` (a pytree), or one vector with
``layout=flat``. ``batch=0`` (default): the full, deterministic gradient; ``batch=B``:
minibatches of B indices drawn with replacement from the run's key.
"""

from __future__ import annotations

import numpy as np

from optlab._jax import jax, jnp
from problems._layout import FlatView, check_layout
from problems.spec import Problem, ProblemEntry

REFERENCE = "l2-regularised logistic regression on generated data (lab problem; Newton x*)"
NEWTON_TOL = 1e-14
NEWTON_MAX_ITERS = 100


def _data(samples: int, features: int, data_seed: int):
    rng = np.random.default_rng(int(data_seed))
    u = rng.standard_normal((samples, features))
    w_true, b_true = rng.standard_normal(features), 0.5 * rng.standard_normal()
    p = 1.0 / (1.0 + np.exp(-(u @ w_true + b_true)))
    s = np.where(rng.random(samples) < p, 1.0, -1.0)
    return u, s


def newton_minimiser(u, s, l2: float):
    """(w*, b*, gradient norm at it) by Newton's method with halving line search, float64."""
    n, d = u.shape
    a = np.hstack([u, np.ones((n, 1))])  # last coordinate: the bias
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0

    def value(z):
        return np.mean(np.logaddexp(0.0, -s * (a @ z))) + 0.5 * np.sum(reg * z * z)

    def grad_hess(z):
        sig = 0.5 * (1.0 + np.tanh(0.5 * s * (a @ z)))  # sigma(s z), overflow-free
        g = -(a.T @ (s * (1.0 - sig))) / n + reg * z
        h = (a.T * (sig * (1.0 - sig))) @ a / n + np.diag(reg)
        return g, h

    z = np.zeros(d + 1)
    for _ in range(NEWTON_MAX_ITERS):
        g, h = grad_hess(z)
        if np.linalg.norm(g) <= NEWTON_TOL:
            break
        step, f0 = np.linalg.solve(h, g), value(z)
        t = 1.0
        while value(z - t * step) > f0 and t > 1e-12:
            t *= 0.5
        z = z - t * step
    g, _ = grad_hess(z)
    return z[:-1], z[-1:], float(np.linalg.norm(g)), float(value(z))


def make(
    samples: int = 200,
    features: int = 5,
    l2: float = 1e-2,
    batch: int = 0,
    data_seed: int = 0,
    layout: str = "tree",
) -> Problem:
    check_layout("logistic", layout)
    if int(samples) != samples or samples < 1 or int(features) != features or features < 1:
        raise ValueError("logistic: samples and features must be integers >= 1")
    if not (np.isfinite(l2) and l2 > 0):
        raise ValueError(f"logistic: l2 must be > 0 (a unique minimiser), got {l2!r}")
    if int(batch) != batch or batch < 0:
        raise ValueError("logistic: batch must be an integer >= 0 (0: full gradient)")
    samples, features, batch = int(samples), int(features), int(batch)
    u_np, s_np = _data(samples, features, data_seed)
    w_star, b_star, g_star, f_star = newton_minimiser(u_np, s_np, float(l2))
    tree_star = {"b": b_star, "w": w_star}
    view = FlatView(tree_star)

    def tree_loss(params, batch_idx=None):
        w, b = params["w"], params["b"]
        u, s = jnp.asarray(u_np).astype(w.dtype), jnp.asarray(s_np).astype(w.dtype)
        if batch_idx is not None:
            u, s = u[batch_idx], s[batch_idx]
        margin = s * (u @ w + b[0])
        return jnp.mean(jnp.logaddexp(0.0, -margin)) + 0.5 * l2 * jnp.sum(w * w)

    sample = None
    if batch:

        def sample(key, t):
            del t
            return jax.random.randint(key, (batch,), 0, samples)

    zeros = {"b": np.zeros(1), "w": np.zeros(features)}
    if layout == "tree":  # NumPy float64 leaves: the runner casts them to the run's dtype
        loss, x0, x_star = tree_loss, zeros, tree_star
    else:
        loss = lambda x, b=None: tree_loss(view.unravel(x), b)  # noqa: E731
        x0, x_star = view.ravel(zeros), view.ravel(tree_star)
    tags = {"convex", "logistic", "multi-leaf"} | ({"stochastic"} if batch else set())
    return Problem(
        name="logistic",
        loss=loss,
        x0=x0,
        x_star=x_star,
        f_star=f_star,
        f_star_kind="global",
        sample=sample,
        tags=frozenset(tags),
        reference=REFERENCE,
        metrics=("gap", "grad_norm"),
        notes=(
            f"{samples} samples u ~ N(0, I) in {features} features from data_seed={data_seed}, "
            "labels from a logistic model with random true weights; start w = 0, b = 0. "
            f"x* from a float64 Newton solve (gradient norm {g_star:.1e} there), f* = f(x*). "
            "Unique minimiser (strictly convex)."
        ),
        options={
            "samples": samples,
            "features": features,
            "l2": float(l2),
            "batch": batch,
            "data_seed": int(data_seed),
            "layout": layout,
            "newton_grad_norm": g_star,
        },
    )


ENTRIES = [
    ProblemEntry(
        id="logistic",
        make=make,
        summary="l2-regularised logistic regression, leaves w and b, x* by Newton (convex)",
        defaults={
            "samples": 200,
            "features": 5,
            "l2": 1e-2,
            "batch": 0,
            "data_seed": 0,
            "layout": "tree",
        },
        tags=frozenset({"convex", "logistic", "multi-leaf"}),
    )
]
