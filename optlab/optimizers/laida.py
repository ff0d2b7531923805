"""LAida: Aida-K with pre-processed layerwise stepsizes.

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Appendix A, Algorithm 5.

Update, t = 1, 2, ... (Alg. 5; l = 1..L the layers)::

    4:     g_t = grad f(x_{t-1})                (+ l2 x_{t-1}: coupled decay)
    5:     m_t = b1 m_{t-1} + (1 - b1) g_t
    7-11:  per layer, m^(0) = m_l,t, g^(0) = g_l,t, and for k = 1..K (both from the k-1 pair)
               m^(k) = <m^(k-1), g^(k-1)> / (|g^(k-1)|^2 + xi) g^(k-1)
               g^(k) = <m^(k-1), g^(k-1)> / (|m^(k-1)|^2 + xi) m^(k-1)
    12:    v_l,t = b2 v_l,t-1 + (1 - b2) mean_l[(m^(K) - g^(K))^2] + eps    (one scalar per layer)
    14:    m~_t = m_t / (1 - b1^t),   v~_l,t = v_l,t / (1 - b2^t)
    16:    x_l,t = x_l,t-1 - lr m~_l,t / sqrt(v~_l,t)                 (times (1 - lr weight_decay))

Symbols -> hyperparameters: eta_t -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2``, decoupled decay -> ``weight_decay``.
Static: ``k`` = K (int >= 0, default 2) and ``layers`` in {"leaf" (default), "coord",
"chunk:N"}. The state ``v`` holds one (L,) array per leaf.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20, K = 2.

Departures from the paper: line 9's "... + xi = delta_l,t" and line 10's "|m|_{2,t} eps" are
garbled forms of |g^(k-1)|^2 + xi and |m^(k-1)|^2 + xi; line 14's 1 - beta^t is 1 - b1^t for
m~ and 1 - b2^t for v~; v_l,0 = 0. Paper Alg. 5 asks K >= 1; K = 0 (= LAdaBelief) is allowed.
Both decay terms are optlab choices (the paper's experiments use L2). With eps = 0 a layer
with zero v gets a zero step (0/0 -> 0; x/0 -> 0 if m is exactly orthogonal to g so far).
No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers import _layerwise as lw
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    l2_coupled,
    safe_div,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Appendix A, Alg. 5 (LAida)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    xi: float = 1e-20
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object  # int32 step counter t
    m: object  # first moment, per coordinate
    v: object  # EMA of mean_l[(m^(K) - g^(K))^2] (+ eps): one (L,) array per leaf


def make(k: int = 2, layers: str = "leaf") -> Optimizer:
    k = lw.check_k(k)
    spec = lw.check_layers(layers)

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), lw.zeros_per_layer(params, spec))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)  # line 4
        t = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, g)  # line 5

        def second_moment(v, m, g):  # lines 7-12: K projections, the layer mean, its EMA
            r = lw.aida_residual(m, g, spec, k, h.xi)
            return lw.ema_e5(v, lw.layer_mean(r * r, spec), h.b2, h.eps)

        v = tree_map(second_moment, state.v, m, g)
        bc1, bc2 = bias_corrections(t, h.b1, h.b2)  # line 14
        d = tree_map(  # line 16: m~_l / sqrt(v~_l)
            lambda m, v: safe_div(m / bc1, lw.per_layer_to_leaf(jnp.sqrt(v / bc2), m, spec)),
            m,
            v,
        )
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(t, m, v)

    return Optimizer("laida", init, step, Hyper(), {"k": k, "layers": layers}, REFERENCE)


ENTRY = OptimizerEntry(
    id="laida",
    make=make,
    summary="LAida: Aida-K with one second moment per layer "
    "(Zhang et al., arXiv:2203.13273, appendix)",
    paper=REFERENCE,
    eps="E5: eps added to the per-layer v-EMA every step; m~/sqrt(v~_l), no outer eps",
    decay=lw.DECAY,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={**lw.SYMBOLS, "xi": "ξ"},
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.per_layer_diagnostics,
)
