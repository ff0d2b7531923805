"""AdamL: Adam with post-processed layerwise stepsizes.

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Algorithm 1 and eqs. (8)-(10).

Update, t = 1, 2, ... (Alg. 1; l = 1..L the layers)::

    4:  g_t      = grad f(x_{t-1})              (+ l2 x_{t-1}: coupled decay)
    5:  m_t      = b1 m_{t-1} + (1 - b1) g_t
    6:  v_t      = b2 v_{t-1} + (1 - b2) g_t^2 + eps           (per coordinate)
    7:  m~_t     = m_t / (1 - b1^t),   v~_t = v_t / (1 - b2^t)
    9:  gamma_l  = mean_l[ 1 / sqrt(v~_l,t) ]                  (one scalar per layer)
    10: x_l,t    = x_l,t-1 - lr gamma_l m~_l,t                 (times (1 - lr weight_decay))

Symbols -> hyperparameters: eta_t -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps`` (must be > 0), L2 penalty -> ``l2``, AdamW decay -> ``weight_decay``.
Static: ``layers`` in {"leaf" (default), "coord", "chunk:N"}.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (the paper's CIFAR setting); no decay.

Departures from the paper: Alg. 1 line 7 prints 1 - beta_t^t, read as 1 - b1^t (eq. 10).
eps = 0 is refused (gamma would be infinite for a layer holding a coordinate whose gradient
was always 0); a coordinate with m = 0 never moves even if gamma = inf. The decoupled
``weight_decay`` is an optlab addition (the paper uses L2 = ``l2``). No official code exists.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.optimizers import _layerwise as lw
from optlab.optimizers._common import (
    bias_corrections,
    init_count,
    l2_coupled,
    step_from,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = f"{lw.PAPER}, Alg. 1 (AdamL), eqs. (8)-(10)"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    l2: float = 0.0
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object  # int32 step counter t
    m: object  # first moment, per coordinate
    v: object  # EMA of g^2 (+ eps), per coordinate


def make(layers: str = "leaf") -> Optimizer:
    spec = lw.check_layers(layers)

    def init(params, hyper):
        lw.check_eps_positive("adaml", hyper.eps)
        lw.check_leaves(params, spec)
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)  # line 4
        t = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, g)  # line 5
        v = tree_map(lambda v, g: lw.ema_e5(v, g * g, h.b2, h.eps), state.v, g)  # line 6
        bc1, bc2 = bias_corrections(t, h.b1, h.b2)  # line 7
        # lines 8-10: gamma_l = mean_l[1/sqrt(v~)], x_l <- x_l - lr gamma_l m~_l
        d = tree_map(lambda m, v: lw.layer_stepsize_direction(m, v, bc1, bc2, spec), m, v)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(t, m, v)

    return Optimizer("adaml", init, step, Hyper(), {"layers": layers}, REFERENCE)


ENTRY = OptimizerEntry(
    id="adaml",
    make=make,
    summary="AdamL: Adam whose stepsizes are replaced by their layer mean gamma_l "
    "(Zhang et al., arXiv:2203.13273)",
    paper=REFERENCE,
    eps="E5: eps added to the v-EMA every step; gamma_l = mean_l[1/sqrt(v~)], no outer eps",
    decay=lw.DECAY,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols=lw.SYMBOLS,
    bibtex=lw.BIBTEX,
    bounds={"eps": lw.EPS_POSITIVE},
    diagnostics=lw.layer_mean_stepsize_diagnostics,
)
