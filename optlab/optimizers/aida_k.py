"""Aida-K: AdaBelief on the K-fold mutually projected pair (m, g), per layer.

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Algorithm 3 and eqs. (12)-(14); official code
guoqiang-zhang-x/Aida-Optimizer ``Aida.py``. Not Aida(p, q) of arXiv:2112.06125 (id
``aida_pq``), which shares the name and the authors.

Update, t = 1, 2, ... (Alg. 3 as rebuilt from eqs. (12)-(14); l = 1..L the layers)::

    4:     g_t = grad f(x_{t-1})                (+ l2 x_{t-1}: coupled decay)
    5:     m_t = b1 m_{t-1} + (1 - b1) g_t
    6-10:  per layer, m^(0) = m_l,t, g^(0) = g_l,t, and for k = 1..K (both from the k-1 pair)
               m^(k) = <m^(k-1), g^(k-1)> / (|g^(k-1)|^2 + xi) g^(k-1)      (eq. 12)
               g^(k) = <m^(k-1), g^(k-1)> / (|m^(k-1)|^2 + xi) m^(k-1)      (eq. 13)
    11:    v_l,t = b2 v_l,t-1 + (1 - b2) (m^(K) - g^(K))^2 + eps            (eq. 14, per coordinate)
    13:    m~_t = m_t / (1 - b1^t),   v~_t = v_t / (1 - b2^t)
    15:    x_t = x_{t-1} - lr m~_t / sqrt(v~_t)                       (times (1 - lr weight_decay))

Symbols -> hyperparameters: eta_t -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2`` (the official code's only decay),
decoupled decay -> ``weight_decay`` (optlab addition). Static: ``k`` = K (int >= 0,
default 2; K = 0 is AdaBelief without outer eps) and ``layers`` in {"leaf" (default), "coord",
"chunk:N"}: only the projection scalars are per layer, v is per coordinate.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20, K = 2 (official code).

Departures from the paper: Alg. 3 lines 5-15 are garbled in the source and rebuilt from
eqs. (12)-(14), Alg. 5 and the code; eq. (13)'s left side g^(k-1) is read as g^(k); v_0 = 0;
the missing update line is x_t = x_{t-1} - lr m~/sqrt(v~). The official code scales copies
of g and m in place (labels alternate), which gives the same residual (m^(K) - g^(K))^2.
Paper Alg. 3 asks K >= 1; K = 0 is allowed here. With xi = 0 a zero vector projects to 0
(0/0 -> 0); with eps = 0, a coordinate whose v is 0 gets a zero step.
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

REFERENCE = f"{lw.PAPER}, Alg. 3 (Aida), eqs. (12)-(14)"


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
    v: object  # EMA of (m^(K) - g^(K))^2 (+ eps), per coordinate


def make(k: int = 2, layers: str = "leaf") -> Optimizer:
    k = lw.check_k(k)
    spec = lw.check_layers(layers)

    def init(params, hyper):
        del hyper
        lw.check_leaves(params, spec)
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)  # line 4
        t = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, g)  # line 5

        def second_moment(v, m, g):  # lines 6-11: K projections per layer, then eq. (14)
            r = lw.aida_residual(m, g, spec, k, h.xi)
            return lw.ema_e5(v, r * r, h.b2, h.eps)

        v = tree_map(second_moment, state.v, m, g)
        bc1, bc2 = bias_corrections(t, h.b1, h.b2)  # line 13
        d = tree_map(lambda m, v: safe_div(m / bc1, jnp.sqrt(v / bc2)), m, v)  # line 15
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(t, m, v)

    return Optimizer("aida_k", init, step, Hyper(), {"k": k, "layers": layers}, REFERENCE)


ENTRY = OptimizerEntry(
    id="aida_k",
    make=make,
    summary="Aida-K: AdaBelief on K layerwise mutual projections of (m, g) "
    "(Zhang et al., arXiv:2203.13273; not aida_pq)",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; m~/sqrt(v~), no outer eps; xi guards projections",
    decay=lw.DECAY,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={**lw.SYMBOLS, "xi": "ξ"},
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.elementwise_diagnostics,
)
