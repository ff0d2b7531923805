"""LAdam: Adam with pre-processed layerwise stepsizes.

Zhang, Niwa, Kleijn, "On Exploiting Layerwise Gradient Statistics for Effective Training
of Deep Neural Networks", arXiv:2203.13273 v2, Algorithm 2 and eq. (11); official code
guoqiang-zhang-x/Aida-Optimizer ``LAdam.py``.

Update, t = 1, 2, ... (Alg. 2; l = 1..L the layers)::

    4:  g_t    = grad f(x_{t-1})                (+ l2 x_{t-1}: coupled decay)
        m_t    = b1 m_{t-1} + (1 - b1) g_t                          (per coordinate)
    6:  v_l,t  = b2 v_l,t-1 + (1 - b2) mean_l[g_l,t^2] + eps        (one scalar per layer)
    8:  m~_t   = m_t / (1 - b1^t),   v~_l,t = v_l,t / (1 - b2^t)
    10: x_l,t  = x_l,t-1 - lr m~_l,t / sqrt(v~_l,t)                 (times (1 - lr weight_decay))

Symbols -> hyperparameters: eta_t -> ``learning_rate``, beta1 -> ``b1``, beta2 -> ``b2``,
epsilon -> ``eps``, L2 penalty -> ``l2`` (official default), decoupled decay ->
``weight_decay`` (official ``weight_decouple=True``). Static: ``layers`` in
{"leaf" (default; one layer per parameter tensor, as the official code), "coord",
"chunk:N"}. The state ``v`` holds one (L,) array per leaf.
Defaults: lr = 1e-3, (b1, b2) = (0.9, 0.999), eps = 1e-8 (paper and code); no decay.

Departures from the paper: none (Alg. 2's scrambled line numbers are read as eq. (11);
v_l,0 = 0). Not implemented from the official code: its ``fixed_decay`` (equal to
``weight_decay`` = mu/lr at a constant lr), ``amsgrad`` and ``rectify`` options (off by
default there, absent from the paper). With eps = 0, a layer whose gradient was always 0
gets a zero step (0/0 -> 0).
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

REFERENCE = f"{lw.PAPER}, Alg. 2 (LAdam), eq. (11)"


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
    v: object  # EMA of mean_l[g^2] (+ eps): one (L,) array per leaf


def make(layers: str = "leaf") -> Optimizer:
    spec = lw.check_layers(layers)

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), lw.zeros_per_layer(params, spec))

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)  # line 4
        t = state.count + 1
        m = tree_map(lambda m, g: h.b1 * m + (1 - h.b1) * g, state.m, g)
        v = tree_map(  # line 6: one EMA per layer of the layer mean of g^2
            lambda v, g: lw.ema_e5(v, lw.layer_mean(g * g, spec), h.b2, h.eps), state.v, g
        )
        bc1, bc2 = bias_corrections(t, h.b1, h.b2)  # line 8
        d = tree_map(  # line 10: m~_l / sqrt(v~_l)
            lambda m, v: safe_div(m / bc1, lw.per_layer_to_leaf(jnp.sqrt(v / bc2), m, spec)),
            m,
            v,
        )
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, State(t, m, v)

    return Optimizer("ladam", init, step, Hyper(), {"layers": layers}, REFERENCE)


ENTRY = OptimizerEntry(
    id="ladam",
    make=make,
    summary="LAdam: Adam with one second moment per layer, EMA of mean_l[g^2] "
    "(Zhang et al., arXiv:2203.13273)",
    paper=REFERENCE,
    eps="E5: eps added to the per-layer v-EMA every step; m~/sqrt(v~_l), no outer eps",
    decay=lw.DECAY,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols=lw.SYMBOLS,
    bibtex=lw.BIBTEX,
    diagnostics=lw.per_layer_diagnostics,
)
