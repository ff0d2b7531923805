"""AdamAL: Adam whose second-moment EMA is fed max(g_t^2, v_{t-1}), so v never decreases.

"A New Perspective in Understanding of Adam-Type Algorithms and Beyond" (anonymous ICLR
submission), Algorithm 1. No official code exists. docs/optimizers.md#adamal.

Update, t = 1, 2, ... (m_0 = v_0 = 0)::

    m_t  = b1 m_{t-1} + (1 - b1) g_t
    gh_t = max(g_t^2, v_{t-1})                       (gh is already a squared quantity)
    v_t  = b2 v_{t-1} + (1 - b2) gh_t                (= v_{t-1} + (1 - b2) max(g_t^2 - v_{t-1}, 0))
    y_t  = x_{t-1} - lr m_t / (sqrt(v_t) + eps)                      (bias_correction=False)
    y_t  = x_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)              (bias_correction=True)
    x_t  = P_X^{A_t}(y_t),  A_t = diag(a_t),  a_t = the denominator above,
           P_X^A(y) = argmin_{x in X} (x - y)^T A (x - y)

Projection (static ``projection``): ``none`` (X = R^n, default); ``box`` (X = [lower, upper]
for every coordinate: separable, so P = clip whatever the weights); ``ball`` (X = {||x|| <= R}
over the whole parameter pytree, R = ``radius``): if ||y|| <= R then y, else
x_i = a_i y_i / (a_i + lam) with lam > 0 solving ||x(lam)|| = R (bisection, 100 halvings of
[0, max(a) ||y|| / R]; ||x(lam)|| is decreasing). The ball couples the leaves; everything
else is per coordinate.

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
``eps`` is optlab's (the paper has none). Static: ``bias_correction`` (default False = the
paper), ``projection`` none|box|ball with ``lower``/``upper`` or ``radius``.
Defaults: the paper gives none; Adam's lr = 1e-3, (0.9, 0.999), eps = 1e-8. No weight
decay: the paper has none.

Departures: eps = 1e-8 outside the root is added (with eps = 0 a coordinate with g = 0 so
far is 0/0, taken as 0); ``bias_correction=True`` is optional (max stays on the raw v).
The projection metric is the step's denominator a_t: sqrt(v_t) + eps as in Alg. 1 (plus
optlab's eps), and sqrt(v_hat_t) + eps when bias correction is on. OCR fixes
(docs/optimizers.md#adamal): Alg. 1 line 7 uses beta1 in the v-line, read as beta2; line 2's
"m_t = 0, v_t = 0" means m_0 = v_0 = 0; the projection superscript printed as -sqrt(v_t)
is the sqrt(v_t)-weighted projection of AMSGrad.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jax, jnp
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    safe_div,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "A New Perspective in Understanding of Adam-Type Algorithms and Beyond "
    "(anonymous ICLR submission, c. 2020), Alg. 1 (AdamAL)"
)
PROJECTIONS = ("none", "box", "ball")
BISECTIONS = 100


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8


class State(NamedTuple):
    count: object
    m: object
    v: object  # non-decreasing in t


def denominators(state, h, bias_correction):
    """a_t: sqrt(v_t) + eps, or sqrt(v_hat_t) + eps with bias correction."""
    if not bias_correction:
        return tree_map(lambda v: jnp.sqrt(v) + h.eps, state.v)
    _, bc2 = bias_corrections(state.count, h.b1, h.b2)
    return tree_map(lambda v: jnp.sqrt(v / bc2) + h.eps, state.v)


def _tree_norm(tree):
    return jnp.sqrt(sum(jnp.sum(v * v) for v in jax.tree_util.tree_leaves(tree)))


def project_ball(y, a, radius):
    """argmin_{||x|| <= radius} sum_i a_i (x_i - y_i)^2 over a pytree (a_i >= 0)."""
    norm_y = _tree_norm(y)

    def shrunk(lam):
        return tree_map(lambda y, a: safe_div(a * y, a + lam), y, a)

    a_max = jnp.max(jnp.stack([jnp.max(v) for v in jax.tree_util.tree_leaves(a)]))
    hi = safe_div(a_max * norm_y, jnp.asarray(radius, norm_y.dtype))

    def halve(_, bracket):
        lo, hi = bracket
        mid = (lo + hi) / 2
        inside = _tree_norm(shrunk(mid)) <= radius
        return jnp.where(inside, lo, mid), jnp.where(inside, mid, hi)

    _, hi = jax.lax.fori_loop(0, BISECTIONS, halve, (jnp.zeros_like(hi), hi))
    x = shrunk(hi)  # the upper end of the bracket: ||x|| <= radius
    outside = norm_y > radius
    return tree_map(lambda x, y: jnp.where(outside, x, y), x, y)


def make(
    bias_correction: bool = False,
    projection: str = "none",
    lower: float = -1.0,
    upper: float = 1.0,
    radius: float = 1.0,
) -> Optimizer:
    bias_correction = bool(bias_correction)
    if projection not in PROJECTIONS:
        raise ValueError(f"adamal: projection must be one of {PROJECTIONS}, got {projection!r}")
    lower, upper, radius = float(lower), float(upper), float(radius)
    if projection == "box" and not lower <= upper:
        raise ValueError(f"adamal: the box needs lower <= upper, got [{lower}, {upper}]")
    if projection == "ball" and not radius > 0:
        raise ValueError(f"adamal: the ball needs radius > 0, got {radius}")

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        count = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        v = tree_map(lambda v, g: h.b2 * v + (1 - h.b2) * jnp.maximum(g * g, v), state.v, grads)
        new_state = State(count, m, v)
        den = denominators(new_state, h, bias_correction)
        bc1 = bias_corrections(count, h.b1, h.b2)[0] if bias_correction else 1.0
        y = tree_map(lambda x, m, a: x - h.learning_rate * safe_div(m / bc1, a), params, m, den)
        if projection == "box":
            y = tree_map(lambda y: jnp.clip(y, lower, upper), y)
        elif projection == "ball":
            y = project_ball(y, den, radius)
        return y, new_state

    static = {
        "bias_correction": bias_correction,
        "projection": projection,
        "lower": lower,
        "upper": upper,
        "radius": radius,
    }
    return Optimizer("adamal", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / a_t (the elementwise scale of the momentum, before projection) and
    the denominator a_t."""
    del grads
    den = denominators(new_state, hyper, static.get("bias_correction", False))
    step = tree_map(lambda s: safe_div(hyper.learning_rate * jnp.ones_like(s), s), den)
    return {"step_size": step, "denominator": den}


ENTRY = OptimizerEntry(
    id="adamal",
    make=make,
    summary="AdamAL: v-EMA fed max(g^2, v_prev) (v non-decreasing), weighted projection",
    paper="A New Perspective in Understanding of Adam-Type Algorithms and Beyond, Algorithm 1",
    eps="E1-like, optlab's addition: m/(sqrt(v)+eps) (raw) or m_hat/(sqrt(v_hat)+eps)",
    decay="none (the paper has none)",
    static_choices={"bias_correction": (False, True), "projection": PROJECTIONS},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@misc{adamal2020,
  title        = {A New Perspective in Understanding of {Adam}-Type Algorithms and Beyond},
  author       = {Anonymous},
  howpublished = {Submitted to the International Conference on Learning Representations},
  year         = {2020}
}""",
)
