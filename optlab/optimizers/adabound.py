"""AdaBound: Adam whose elementwise step is clipped into bounds that close on final_lr.

Luo, Xiong, Liu, Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate",
ICLR 2019, Algorithm 2 (AdaBound); implemented as the official code Luolc/AdaBound, which
differs from the algorithm box (docs/optimizers.md#adabound). Update, t = 1, 2, ...::

    g_t  = grad f(x_{t-1}) + l2 x_{t-1}
    m_t  = b1 m_{t-1} + (1 - b1) g_t,      v_t = b2 v_{t-1} + (1 - b2) g_t^2
    s_t  = lr sqrt(bc2) / bc1 / (sqrt(v_t) + eps)                (raw v: E4)
    f_t  = final_lr * lr_t / lr_0                                 (follows a lr schedule)
    lb_t = f_t (1 - 1/(gamma t + 1)),       ub_t = f_t (1 + 1/(gamma t))
    x_t  = (1 - mu) x_{t-1} - clip(s_t, lb_t, ub_t) * m_t          (un-corrected m)

with bc1 = 1 - b1^t, bc2 = 1 - b2^t. ``amsbound=True`` replaces v_t by its running max.

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
alpha* -> ``final_lr``, gamma -> ``gamma``, epsilon -> ``eps``; ``l2`` is the official
coupled ``weight_decay`` of ``AdaBound``, ``mu`` the un-scaled decoupled decay of the official
``AdaBoundW`` (x <- x - step - mu x_{t-1}). Both default to 0.

Defaults (official): lr = 1e-3, (0.9, 0.999), final_lr = 0.1, gamma = 1e-3, eps = 1e-8. At
t = 1 the bounds are [9.99e-5, 100.1]. Limits (tests): gamma -> 0 gives Adam with eps_mode E4;
gamma -> infinity gives the dampened heavy ball (``heavy_ball`` with ``dampening=True``)
with lr = final_lr and momentum = b1. The bounds are absolute, so AdaBound is not
invariant to rescaling f. torch-optimizer's AdaBound is the same formula; pytorch-optimizer's
adds 1e-15 inside the root and defaults to decoupled decay (docs/optimizers.md#reference-libraries).

lr_0 (the official ``base_lr``) is the learning rate ``init`` receives, kept in the state;
with a constant lr the factor lr_t / lr_0 is exactly 1 (and 1 when lr_0 = 0).

Departures: the official constructor rejects gamma >= 1; optlab accepts any gamma >= 0
(gamma = 0 gives the bounds [0, inf], i.e. no clipping). The paper's algorithm box (clip of
alpha/sqrt(V_t), then / sqrt(t), no bias correction, bounds in 1 - b2) is not implemented.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq, scalar_like, tree_maximum
from optlab.optimizers._common import (
    as_float,
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

REFERENCE = (
    "Luo, Xiong, Liu, Sun (2019), Adaptive Gradient Methods with Dynamic Bound of Learning "
    "Rate, ICLR, Alg. 2; official code Luolc/AdaBound"
)


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    final_lr: float = 0.1
    gamma: float = 1e-3
    eps: float = 1e-8
    l2: float = 0.0
    mu: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object
    v_max: object  # None unless amsbound
    base_lr: object  # lr_0, the learning rate at init (scalar)


def _clipped_step(state, h):
    """The elementwise step clip(s_t, lb_t, ub_t) that multiplies the raw m_t, and sqrt(v)+eps."""
    bc1, bc2 = bias_corrections(state.count, h.b1, h.b2)
    t = as_float(state.count, h.gamma)
    base = state.base_lr
    final_lr = h.final_lr * jnp.where(base != 0, h.learning_rate / jnp.where(base != 0, base, 1), 1)
    lower = final_lr * (1 - 1 / (h.gamma * t + 1))
    upper = final_lr * (1 + 1 / (h.gamma * t))
    scale = h.learning_rate * jnp.sqrt(bc2) / bc1
    v = state.v_max if state.v_max is not None else state.v
    den = tree_map(lambda v: jnp.sqrt(v) + h.eps, v)
    # den = 0 only where v = 0, i.e. every g so far was 0 and m = 0: the step is irrelevant.
    step = tree_map(lambda d: jnp.clip(safe_div(scale, d), lower, upper), den)
    return step, den


def make(amsbound: bool = False) -> Optimizer:
    amsbound = bool(amsbound)

    def init(params, hyper):
        z = zeros_like_tree
        v_max = z(params) if amsbound else None
        lr0 = scalar_like(params, hyper.learning_rate)
        return State(init_count(), z(params), z(params), v_max, lr0)

    def step(params, grads, state, h):
        g = l2_coupled(grads, params, h.l2)
        m = ema(h.b1, state.m, g)
        v = ema_sq(h.b2, state.v, g)
        v_max = tree_maximum(state.v_max, v) if amsbound else None
        new_state = State(state.count + 1, m, v, v_max, state.base_lr)
        steps, _ = _clipped_step(new_state, h)
        d = tree_map(lambda s, m: s * m, steps, m)
        return step_from(params, d, 1.0, mu=h.mu), new_state

    return Optimizer("adabound", init, step, Hyper(), {"amsbound": amsbound}, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size = clip(s_t, lb, ub) * bc1 (x_t = x_{t-1} - step_size * m_hat_t);
    denominator = (sqrt(v) + eps) / sqrt(bc2) = sqrt(v_hat) + eps/sqrt(bc2) (E4)."""
    del grads, static
    bc1, bc2 = bias_corrections(new_state.count, hyper.b1, hyper.b2)
    steps, den = _clipped_step(new_state, hyper)
    return {
        "step_size": tree_map(lambda s: s * bc1, steps),
        "denominator": tree_map(lambda d: d / jnp.sqrt(bc2), den),
    }


ENTRY = OptimizerEntry(
    id="adabound",
    make=make,
    summary="AdaBound (official code): Adam-E4 step clipped into bounds converging to final_lr",
    paper=REFERENCE,
    eps="E4: lr sqrt(bc2)/bc1 / (sqrt(v)+eps), before clipping",
    decay="l2: coupled (AdaBound); mu: decoupled, not scaled by lr (AdaBoundW)",
    bounds={"final_lr": (0.0, None, "[]"), "gamma": (0.0, None, "[]")},
    static_choices={"amsbound": (False, True)},
    diagnostics=diagnostics,
    state_roles={
        "count": "counter",
        "v": "nonnegative",
        "v_max": "running_max",
        "base_lr": "constant",
    },
    fixed_point_note=(
        "clipped step size: piecewise map; base_lr (a constant carried in the state) is held "
        "fixed, not part of z"
    ),
    symbols={
        "learning_rate": "α",
        "b1": "β1",
        "b2": "β2",
        "eps": "ε",
        "final_lr": "α*",
        "gamma": "γ",
    },
    bibtex="""@inproceedings{luo2019adabound,
  title     = {Adaptive Gradient Methods with Dynamic Bound of Learning Rate},
  author    = {Luo, Liangchen and Xiong, Yuanhao and Liu, Yan and Sun, Xu},
  booktitle = {International Conference on Learning Representations},
  year      = {2019}
}""",
)
