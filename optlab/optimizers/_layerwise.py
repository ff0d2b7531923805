"""Helpers of the layerwise family of Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient
Statistics for Effective Training of Deep Neural Networks", arXiv:2203.13273 v2.

Each of the seven methods (``adaml``, ``adabeliefl``, ``ladam``, ``ladabelief``, ``aida_k``,
``aidagrad``, ``laida``) writes its own ``init`` and ``step`` line by line after its
algorithm box; this module holds only the pieces they share: layer grouping and per-layer
means, the mutual projections of Aida (eqs. (12)-(13)) and AidaGrad (Alg. 4 line 7),
AdamL's layer-mean stepsize gamma_l (eq. (9)), the E5 moment EMA (eps added every step,
eqs. (8), (14)), and the diagnostics hooks.

A "layer" is set by the static ``layers`` option (``_layers.py``): ``leaf`` (one layer per
pytree leaf, as the official code's one layer per parameter tensor), ``coord`` or
``chunk:N``. A per-layer second moment is stored as one (L,) array per leaf.

Numerics: a zero denominator gives a zero step (``safe_div``, the 0/0 rule; also the x/0 case
of an exactly orthogonal m, g with eps = 0). AdamL and AdaBeliefL need eps > 0: a concrete
eps <= 0 is refused by ``init`` and by the ENTRY bounds; under a traced eps = 0 a layer with
a zero v gets gamma = inf, so coordinates with m = 0 stay put and the others diverge
(recorded by the runner).
"""

from __future__ import annotations

import math

import numpy as np

from optlab._jax import jax, jnp
from optlab.optimizers._common import bias_corrections, safe_div, tree_map
from optlab.optimizers._layers import groups, parse_layers, ungroup

PAPER = "Zhang, Niwa, Kleijn (2022), arXiv:2203.13273 v2"
# eps > 0 for AdamL / AdaBeliefL: inclusive bounds, so the smallest positive double.
EPS_POSITIVE = (math.ulp(0.0), None)
SYMBOLS = {"learning_rate": "η", "b1": "β1", "b2": "β2", "eps": "ε"}

BIBTEX = """@article{zhang2022layerwise,
  title   = {On Exploiting Layerwise Gradient Statistics for Effective Training of Deep
             Neural Networks},
  author  = {Zhang, Guoqiang and Niwa, Kenta and Kleijn, W. Bastiaan},
  journal = {arXiv preprint arXiv:2203.13273},
  year    = {2022}
}"""

DECAY = (
    "l2: coupled g <- g + l2*x (the official code, the paper's CIFAR runs); "
    "weight_decay: decoupled (1 - lr*weight_decay)x"
)


# ---------------------------------------------------------------- options


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
        raise ValueError(f"{name}: eps must be > 0 (gamma_l is a mean of 1/sqrt(v)), got {eps!r}")


def n_layers(x, layers) -> int:
    """How many layers the leaf ``x`` holds (static; a ValueError if chunk:N does not divide it)."""
    shape = jnp.shape(x)
    return jax.eval_shape(lambda: groups(jnp.zeros(shape), layers)).shape[0]


def check_leaves(params, layers) -> None:
    """Every leaf splits into whole layers (chunk:N must divide every leaf)."""
    tree_map(lambda x: n_layers(x, layers), params)


def zeros_per_layer(params, layers):
    """One zero per layer of every leaf: the per-layer second moment's v_l,0 = 0."""
    return tree_map(lambda x: jnp.zeros((n_layers(x, layers),), jnp.result_type(x)), params)


# ---------------------------------------------------------------- per-layer algebra


def layer_dot(a, b):
    """Per-layer inner products of two (L, n) arrays, shape (L, 1)."""
    return jnp.sum(a * b, axis=1, keepdims=True)


def layer_mean(s, layers):
    """mean_l[s]: the mean of ``s`` over each layer of its leaf, shape (L,)."""
    return jnp.mean(groups(s, layers), axis=1)


def per_layer_to_leaf(v, like, layers):
    """Broadcast an (L,) per-layer array back to the shape of the leaf ``like``."""
    return ungroup(jnp.reshape(v, (-1, 1)), like)


def ema_e5(prev, new, b2, eps):
    """b2 prev + (1 - b2) new + eps: the second-moment EMA with eps added every step (E5)."""
    return b2 * prev + (1 - b2) * new + eps


def project(m, g, layers, k: int, xi):
    """The K mutual projections of eqs. (12)-(13), per layer.

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


def gamma(v_tilde, layers):
    """AdamL's gamma_l = mean_l[1/sqrt(v~)], broadcast to v~'s shape (inf where v~ = 0)."""
    inv = groups(1 / jnp.sqrt(v_tilde), layers)
    return ungroup(jnp.mean(inv, axis=1, keepdims=True), v_tilde)


def layer_stepsize_direction(m, v, bc1, bc2, layers):
    """gamma_l m~ with gamma_l = mean_l[1/sqrt(v~)] (Alg. 1 lines 9-10); a coordinate with
    m = 0 gets 0 even where gamma_l = inf."""
    return jnp.where(m == 0, 0, gamma(v / bc2, layers) * (m / bc1))


# ---------------------------------------------------------------- diagnostics hooks
# The ENTRY hook: elementwise effective step size lr*d/m~ and the denominator m~/d.


def elementwise_diagnostics(grads, new_state, hyper, static):
    """Per-coordinate v (Aida-K, AidaGrad): denominator sqrt(v~), step lr/sqrt(v~) (Aida-K's
    plotted step; 0 where the denominator is 0, as in the step)."""
    del grads, static
    _, bc2 = bias_corrections(new_state.count, hyper.b1, hyper.b2)
    den = tree_map(lambda v: jnp.sqrt(v / bc2), new_state.v)
    size = tree_map(lambda d: hyper.learning_rate * safe_div(jnp.ones_like(d), d), den)
    return {"step_size": size, "denominator": den}


def per_layer_diagnostics(grads, new_state, hyper, static):
    """Per-layer v (LAdam, LAdaBelief, LAida): denominator sqrt(v~_l) broadcast over the
    layer, step lr/sqrt(v~_l)."""
    del grads
    layers = check_layers(static["layers"])
    _, bc2 = bias_corrections(new_state.count, hyper.b1, hyper.b2)
    den = tree_map(
        lambda m, v: per_layer_to_leaf(jnp.sqrt(v / bc2), m, layers), new_state.m, new_state.v
    )
    size = tree_map(lambda d: hyper.learning_rate * safe_div(jnp.ones_like(d), d), den)
    return {"step_size": size, "denominator": den}


def layer_mean_stepsize_diagnostics(grads, new_state, hyper, static):
    """AdamL, AdaBeliefL: step lr gamma_l, denominator 1/gamma_l (gamma may be inf when
    eps = 0)."""
    del grads
    layers = check_layers(static["layers"])
    _, bc2 = bias_corrections(new_state.count, hyper.b1, hyper.b2)
    gam = tree_map(lambda v: gamma(v / bc2, layers), new_state.v)
    return {
        "step_size": tree_map(lambda c: hyper.learning_rate * c, gam),
        "denominator": tree_map(lambda c: 1 / c, gam),
    }
