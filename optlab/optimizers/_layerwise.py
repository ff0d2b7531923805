"""Shared machinery of the layerwise family (docs/optimizers.md#layerwise-family).

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2. Seven methods share one skeleton
(1-based t, g_t possibly with the coupled ``l2`` term added first)::

    m_t = b1 m_{t-1} + (1 - b1) g_t                               (per coordinate)
    s_t = statistic(m_t, g_t)                                     (per coordinate)
    v_t = b2 v_{t-1} + (1 - b2) s_t + eps          kind "elem"/"post" (per coordinate)
    v_t = b2 v_{t-1} + (1 - b2) mean_l[s_t] + eps  kind "pre" (one scalar per layer)
    x_t = (1 - lr weight_decay) x_{t-1} - lr d_t

with eps added to the EMA every step (E5, no eps outside the root), m~ = m/bc1,
v~ = v/bc2 and the direction

    "elem":  d = m~ / sqrt(v~)                      (Aida-K, AidaGrad)
    "pre":   d = m~ / sqrt(v~_l)                    (LAdam, LAdaBelief, LAida)
    "post":  d = gamma_l m~, gamma_l = mean_l[1/sqrt(v~)]   (AdamL, AdaBeliefL)

Statistics: g^2 (Adam), (m - g)^2 (AdaBelief), (m^(K) - g^(K))^2 after K mutual
projections (Aida), (g^p)^2 with g^p the projection of g onto m (AidaGrad).

A "layer" is set by the static ``layers`` option (``_layers.py``). Per-layer scalars
are stored as one (L,) array per leaf, L = number of layers in that leaf.

Numerics: eps = 0 (and xi = 0) are allowed for "elem" and "pre": a zero denominator
gives a zero step (``safe_div``, the 0/0 rule; for "elem" this also covers the x/0 case of
an exactly orthogonal m, g with eps = 0). "post" (AdamL, AdaBeliefL) needs eps > 0
(docs/optimizers.md#adaml): a concrete eps <= 0 is refused by ``init`` and by the
ENTRY bounds; under a traced eps = 0 a layer with a zero v gets gamma = inf, so
coordinates with m = 0 stay put and the others diverge (recorded by the runner).
"""

from __future__ import annotations

import math

import numpy as np

from optlab._jax import jax, jnp
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._layers import groups, parse_layers, ungroup
from optlab.types import Optimizer

PAPER = "Zhang, Niwa, Kleijn (2022), arXiv:2203.13273 v2"
KINDS = ("elem", "pre", "post")
# eps > 0 for AdamL / AdaBeliefL: inclusive bounds, so the smallest positive double.
EPS_POSITIVE = (math.ulp(0.0), None)

BIBTEX = """@article{zhang2022layerwise,
  title   = {On Exploiting Layerwise Gradient Statistics for Effective Training of Deep
             Neural Networks},
  author  = {Zhang, Guoqiang and Niwa, Kenta and Kleijn, W. Bastiaan},
  journal = {arXiv preprint arXiv:2203.13273},
  year    = {2022}
}"""

DECAY = (
    "l2: coupled g <- g + l2*x (official 003 code, the paper's CIFAR runs); "
    "weight_decay: decoupled (1 - lr*weight_decay)x"
)


# ---------------------------------------------------------------- statistics (per leaf)


def layer_dot(a, b):
    """Per-layer inner products of two (L, n) arrays, shape (L, 1)."""
    return jnp.sum(a * b, axis=1, keepdims=True)


def project(m, g, layers, k: int, xi):
    """The K mutual projections of Zhang, Niwa, Kleijn (arXiv:2203.13273), eqs. (12)-(13), per
    layer.

    Both new vectors come from the (k-1) pair: m^(k) = <m,g>/(|g|^2 + xi) g and
    g^(k) = <m,g>/(|m|^2 + xi) m. Returns (m^(K), g^(K)) grouped as (L, n) arrays.
    With xi = 0 a zero vector gives a zero projection (0/0 -> 0).
    """
    mk, gk = groups(m, layers), groups(g, layers)
    for _ in range(k):
        a = layer_dot(mk, gk)
        mk, gk = safe_div(a, layer_dot(gk, gk) + xi) * gk, safe_div(a, layer_dot(mk, mk) + xi) * mk
    return mk, gk


def aida_residual(m, g, layers, k: int, xi):
    """m^(K) - g^(K), shaped like ``m`` (K = 0 gives m - g, AdaBelief's residual)."""
    mk, gk = project(m, g, layers, k, xi)
    return ungroup(mk - gk, m)


def grad_onto_momentum(m, g, layers, xi):
    """AidaGrad's g^p = <m,g>/(|m|^2 + xi) m per layer (Alg. 4 line 7), shaped like ``m``."""
    mg, gg = groups(m, layers), groups(g, layers)
    return ungroup(safe_div(layer_dot(mg, gg), layer_dot(mg, mg) + xi) * mg, m)


def stat_adam(layers, **_):
    return lambda m, g, h: g * g


def stat_belief(layers, **_):
    return lambda m, g, h: (m - g) ** 2


def stat_aida(layers, k, **_):
    def s(m, g, h):
        r = aida_residual(m, g, layers, k, h.xi)
        return r * r

    return s


def stat_aidagrad(layers, **_):
    def s(m, g, h):
        p = grad_onto_momentum(m, g, layers, h.xi)
        return p * p

    return s


# ---------------------------------------------------------------- the shared step


def n_layers(x, layers) -> int:
    """How many layers the leaf ``x`` holds (static; a ValueError if chunk:N does not divide it)."""
    shape = jnp.shape(x)
    return jax.eval_shape(lambda: groups(jnp.zeros(shape), layers)).shape[0]


def check_layers(spec: str) -> tuple[str, int]:
    return parse_layers(spec)


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    return int(k)


def check_eps_positive(name: str, eps) -> None:
    """Refuse a concrete eps <= 0 (AdamL / AdaBeliefL); traced values pass through."""
    if isinstance(eps, jax.core.Tracer):
        return
    if np.any(np.asarray(eps) <= 0):
        raise ValueError(f"{name}: eps must be > 0 (docs/optimizers.md#adaml), got {eps!r}")


def layer_scalars_to_leaf(v, like, layers):
    """Broadcast an (L,) per-layer array back to the shape of ``like``."""
    return ungroup(jnp.reshape(v, (-1, 1)), like)


def gamma(v_tilde, layers):
    """AdamL's gamma_l = mean_l[1/sqrt(v~)], broadcast to v~'s shape (inf where v~ = 0)."""
    inv = groups(1 / jnp.sqrt(v_tilde), layers)
    return ungroup(jnp.mean(inv, axis=1, keepdims=True), v_tilde)


def build(name, *, kind, statistic, state_cls, hyper, static, reference) -> Optimizer:
    """An Optimizer record for one member of the family (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    layers = check_layers(static["layers"])
    stat = statistic(layers, **{k: v for k, v in static.items() if k != "layers"})

    def init(params, hyper):
        if kind == "post":
            check_eps_positive(name, hyper.eps)
        tree_map(lambda x: n_layers(x, layers), params)  # chunk:N must divide every leaf
        if kind == "pre":
            v = tree_map(lambda x: jnp.zeros((n_layers(x, layers),), jnp.result_type(x)), params)
        else:
            v = zeros_like_tree(params)
        return state_cls(init_count(), zeros_like_tree(params), v)

    def step(params, grads, state, h):
        grads = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, grads)
        s = tree_map(lambda m, g: stat(m, g, h), m, grads)
        if kind == "pre":

            def ema(v, s):
                return h.b2 * v + (1 - h.b2) * jnp.mean(groups(s, layers), axis=1) + h.eps

        else:

            def ema(v, s):
                return h.b2 * v + (1 - h.b2) * s + h.eps

        v = tree_map(ema, state.v, s)
        bc1, bc2 = bias_corrections(count, h.b1, h.b2)
        if kind == "elem":

            def direction(m, v):
                return safe_div(m / bc1, jnp.sqrt(v / bc2))

        elif kind == "pre":

            def direction(m, v):
                return safe_div(m / bc1, layer_scalars_to_leaf(jnp.sqrt(v / bc2), m, layers))

        else:

            def direction(m, v):
                return jnp.where(m == 0, 0, gamma(v / bc2, layers) * (m / bc1))

        d = tree_map(direction, m, v)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, state_cls(count, m, v)

    return Optimizer(name, init, step, hyper, dict(static), reference)


def make_diagnostics(kind):
    """The ENTRY diagnostics hook: elementwise effective step size lr*d/m~ and denominator m~/d.

    "elem": denominator sqrt(v~) (Aida-K's 1/sqrt(v~) is the paper's plotted step);
    "pre": sqrt(v~_l) broadcast over the layer; "post": 1/gamma_l broadcast. The step
    size is lr/denominator (0 where the denominator is 0, as in the step itself,
    except "post", whose gamma may be inf when eps = 0).
    """

    def diagnostics(grads, new_state, hyper, static):
        del grads
        layers = check_layers(static["layers"])
        _, bc2 = bias_corrections(new_state.count, hyper.b1, hyper.b2)
        lr = hyper.learning_rate
        if kind == "elem":
            den = tree_map(lambda v: jnp.sqrt(v / bc2), new_state.v)
            size = tree_map(lambda d: lr * safe_div(jnp.ones_like(d), d), den)
        elif kind == "pre":
            den = tree_map(
                lambda m, v: layer_scalars_to_leaf(jnp.sqrt(v / bc2), m, layers),
                new_state.m,
                new_state.v,
            )
            size = tree_map(lambda d: lr * safe_div(jnp.ones_like(d), d), den)
        else:
            gam = tree_map(lambda v: gamma(v / bc2, layers), new_state.v)
            den = tree_map(lambda c: 1 / c, gam)
            size = tree_map(lambda c: lr * c, gam)
        return {"step_size": size, "denominator": den}

    return diagnostics
