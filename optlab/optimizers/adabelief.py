"""AdaBelief: Adam whose second moment tracks the "belief" (g - m)^2 (Zhuang et al., NeurIPS 2020).

Paper: "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients",
Algorithm 2; official code juntang-zhuang/Adabelief-Optimizer (pip ``adabelief-pytorch``
0.2.x, non-rectified path). Update, t = 1, 2, ...::

    g_t = grad f(x_{t-1}) + l2 x_{t-1}
    m_t = b1 m_{t-1} + (1 - b1) g_t
    s_t = b2 s_{t-1} + (1 - b2) (g_t - m_t)^2 + eps              (eps in the EMA: E5)
    x_t = (1 - mu - lr weight_decay) x_{t-1} - lr * m_hat_t / (sqrt(s_hat_t) + eps)   (+ E1)

with m_hat = m / (1 - b1^t), s_hat = s / (1 - b2^t). Equivalently s_hat = s_hat' + eps/(1 - b2)
where s' is the eps-free EMA (docs/optimizers.md#epsilon-placements, E5+E1).

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
epsilon -> ``eps``. Weight decay (official options, all default 0 here): ``l2`` (coupled,
``weight_decouple=False``), ``weight_decay`` (``weight_decouple=True``: x <- (1 - lr wd) x),
``mu`` (``weight_decouple=True, fixed_decay=True``: x <- (1 - mu) x).
Static ``amsgrad`` (official option): s^max_t = max(s^max_{t-1}, s_t) (s already holds its
eps) and the update divides by sqrt(s^max_t / bc2) + eps.

Equals ``optax.adabelief(lr, b1, b2, eps=eps, eps_root=eps)`` (optax adds eps_root to its
stored state every step). Defaults: lr = 1e-3, (0.9, 0.999), eps = 1e-16 (pip 0.2.x and
optax; use eps = 1e-8 with l2 = 5e-4 to reproduce the CIFAR tables of Wang et al. (arXiv:2106.11514)
and Zhang, Niwa, Kleijn (arXiv:2203.13273)).

Departures: the official ``rectify`` option (RAdam-style, default True in pip 0.2.x) is not
implemented: optlab follows the paper's Algorithm 2 (rectify=False), as recommended in
docs/optimizers.md#choices. eps = 0 with s = 0 (hence m = 0) gives d = 0.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, lr_over, tree_maximum
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

REFERENCE = "Zhuang et al. (2020), AdaBelief Optimizer, NeurIPS, Alg. 2"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-16
    l2: float = 0.0
    weight_decay: float = 0.0
    mu: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    s: object
    s_max: object  # None unless amsgrad


def _denominator(state, h):
    _, bc2 = bias_corrections(state.count, h.b1, h.b2)
    s = state.s_max if state.s_max is not None else state.s
    return tree_map(lambda s: jnp.sqrt(s / bc2) + h.eps, s)


def make(amsgrad: bool = False) -> Optimizer:
    amsgrad = bool(amsgrad)

    def init(params, hyper):
        del hyper
        z = zeros_like_tree
        return State(init_count(), z(params), z(params), z(params) if amsgrad else None)

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        count = state.count + 1
        m = ema(h.b1, state.m, g)
        s = tree_map(
            lambda s, g, m: h.b2 * s + (1 - h.b2) * (g - m) * (g - m) + h.eps, state.s, g, m
        )
        s_max = tree_maximum(state.s_max, s) if amsgrad else None
        new_state = State(count, m, s, s_max)
        bc1, _ = bias_corrections(count, h.b1, h.b2)
        d = tree_map(lambda m, den: safe_div(m / bc1, den), m, _denominator(new_state, h))
        new = step_from(params, d, h.learning_rate, mu=h.mu, weight_decay=h.weight_decay)
        return new, new_state

    return Optimizer("adabelief", init, step, Hyper(), {"amsgrad": amsgrad}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = lr / (sqrt(s_hat) + eps) (x_t = x_{t-1} - step_size * m_hat_t)."""
    del grads, static
    den = _denominator(new_state, hyper)
    return lr_over(hyper.learning_rate, den)


ENTRY = OptimizerEntry(
    id="adabelief",
    make=make,
    summary="AdaBelief: Adam with the EMA of (g - m)^2 + eps as second moment",
    paper=REFERENCE,
    eps="E5+E1: eps added to the s-EMA every step and outside the root",
    decay="l2: coupled; weight_decay: decoupled, scaled by lr; mu: decoupled, fixed",
    static_choices={"amsgrad": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "s": "nonnegative", "s_max": "running_max"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@inproceedings{zhuang2020adabelief,
  title     = {{AdaBelief} Optimizer: Adapting Stepsizes by the Belief in Observed Gradients},
  author    = {Zhuang, Juntang and Tang, Tommy and Ding, Yifan and Tatikonda, Sekhar and
               Dvornek, Nicha and Papademetris, Xenophon and Duncan, James S.},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {33},
  year      = {2020}
}""",
)
