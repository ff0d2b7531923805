"""AidaGrad: Adam with the gradient replaced by its layerwise projection onto m.

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Appendix A, Algorithm 4.

Update, t = 1, 2, ... (Alg. 4; l = 1..L the layers)::

    4:  g_t      = grad f(x_{t-1})              (+ l2 x_{t-1}: coupled decay)
    5:  m_t      = b1 m_{t-1} + (1 - b1) g_t
    7:  g^p_l,t  = <m_l,t, g_l,t> / (|m_l,t|^2 + xi) m_l,t          (per layer)
    8:  v_l,t    = b2 v_l,t-1 + (1 - b2) (g^p_l,t)^2 + eps          (per coordinate)
    10: m~_t     = m_t / (1 - b1^t),   v~_t = v_t / (1 - b2^t)
    11: x_t      = x_{t-1} - lr m~_t / sqrt(v~_t)                   (times (1 - lr weight_decay))

Symbols -> hyperparameters: eta_t -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, xi -> ``xi``, L2 penalty -> ``l2``, decoupled decay -> ``weight_decay``.
Static: ``layers`` in {"leaf" (default), "coord", "chunk:N"}.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8, xi = 1e-20 (the family's).

Departures from the paper: Alg. 4 line 11 prints lr m_t/sqrt(n~_t), read as lr m~_t/sqrt(v~_t)
(bias-corrected m, as line 10 computes it); the garbled "rac" on line 7 is a \\frac. The
statistic is (g^p)^2 as printed, not a residual. Both decay terms are optlab choices (the
paper's experiments use L2). With eps = 0, a coordinate whose v is 0 (m orthogonal to g so
far) gets a zero step. No official code exists.
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

REFERENCE = f"{lw.PAPER}, Appendix A, Alg. 4 (AidaGrad)"


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
    v: object  # EMA of (g^p)^2 (+ eps), per coordinate


def make(layers: str = "leaf") -> Optimizer:
    spec = lw.check_layers(layers)

    def init(params, hyper):
        del hyper
        lw.check_leaves(params, spec)
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)  # line 4
        t = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, g)  # line 5

        def second_moment(v, m, g):  # lines 7-8: g^p per layer, then its EMA
            gp = lw.grad_onto_momentum(m, g, spec, h.xi)
            return lw.ema_e5(v, gp * gp, h.b2, h.eps)

        v = tree_map(second_moment, state.v, m, g)
        bc1, bc2 = bias_corrections(t, h.b1, h.b2)  # line 10
        d = tree_map(lambda m, v: safe_div(m / bc1, jnp.sqrt(v / bc2)), m, v)  # line 11
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(t, m, v)

    return Optimizer("aidagrad", init, step, Hyper(), {"layers": layers}, REFERENCE)


ENTRY = OptimizerEntry(
    id="aidagrad",
    make=make,
    summary="AidaGrad: Adam on the layerwise projection of g onto m "
    "(Zhang et al., arXiv:2203.13273, appendix)",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; m~/sqrt(v~), no outer eps; xi guards projection",
    decay=lw.DECAY,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={**lw.SYMBOLS, "xi": "ξ"},
    bibtex=lw.BIBTEX,
    bounds={"xi": (0.0, None)},
    diagnostics=lw.elementwise_diagnostics,
)
