"""RAdam: Adam with the variance of the adaptive step rectified (Liu et al., ICLR 2020).

"On the Variance of the Adaptive Learning Rate and Beyond", Algorithm 2; implemented as the
official code LiyuanLucasLiu/RAdam (``radam/radam.py``, docs/optimizers.md#radam).
Update, t = 1, 2, ...::

    m_t   = b1 m_{t-1} + (1 - b1) g_t,      v_t = b2 v_{t-1} + (1 - b2) g_t^2
    rho_inf = 2/(1 - b2) - 1,   rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
    if rho_t >= 5:   r_t = sqrt(bc2 (rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
                     x_t = (1 - lr wd) x_{t-1} - lr r_t / bc1 * m_t / (sqrt(v_t) + eps)      (E4)
    elif degenerated_to_sgd:
                     x_t = (1 - lr wd) x_{t-1} - lr m_t / bc1
    else:            x_t = x_{t-1}                 (no update and no decay; the state advances)

with bc1 = 1 - b1^t, bc2 = 1 - b2^t. With b2 = 0.999, rho_1..rho_5 = 1, 2, 3, 4, 4.996: the
first update is at t = 6.

Symbols -> hyperparameters: alpha -> ``learning_rate``, beta1/beta2 -> ``b1``/``b2``,
epsilon -> ``eps``, ``weight_decay`` (the official decoupled decay, scaled by lr, applied
only on steps that update). Static ``degenerated_to_sgd`` (official default False since
commit d9fd30a; the seeds' experiment copies used True).

Defaults: lr = 1e-3, (0.9, 0.999), eps = 1e-8, weight_decay = 0. Library differences:
``optax.radam`` puts eps outside the bias-corrected root (E1) and always degenerates
(``make(degenerated_to_sgd=True)`` with eps = 0 equals ``optax.radam(eps=0)``);
``torch.optim.RAdam`` is E4 but always degenerates and tests rho_t > 5; pytorch-optimizer's
RAdam equals this file.

Departures: none from the official code (its 10-entry step-size cache only memoises
rho_t and r_t). The unused branch of the rho_t test is evaluated at a safe argument so
that autodiff through the step never sees sqrt of a negative number.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab._jax import jnp
from optlab.optimizers._baselines import ema, ema_sq
from optlab.optimizers._common import (
    as_float,
    init_count,
    safe_div,
    tree_map,
    zeros_like_tree,
)
from optlab.optimizers._entry import OptimizerEntry
from optlab.types import Optimizer

REFERENCE = (
    "Liu et al. (2020), On the Variance of the Adaptive Learning Rate and Beyond, ICLR, "
    "Alg. 2; official code LiyuanLucasLiu/RAdam"
)
THRESHOLD = 5.0


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0


class State(NamedTuple):
    count: object
    m: object
    v: object


def rectification(count, b2):
    """(rho_t, rectified?, r_t) for the 1-based step count t; r_t includes sqrt(bc2)."""
    t = as_float(count, b2)
    b2t = b2**t
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2t / (1 - b2t)
    rect = rho >= THRESHOLD
    arg = (1 - b2t) * (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
    r = jnp.sqrt(jnp.where(rect, arg, 1.0))
    return rho, rect, r


def _step_sizes(state, h, degenerated_to_sgd):
    """(step, moved): x_t = x_{t-1} * (1 - lr wd [moved]) - step * m_hat_t, elementwise."""
    _, rect, r = rectification(state.count, h.b2)
    den = tree_map(lambda v: jnp.sqrt(v) + h.eps, state.v)
    adaptive = tree_map(lambda d: safe_div(h.learning_rate * r, d), den)
    fallback = h.learning_rate if degenerated_to_sgd else 0.0
    step = tree_map(lambda a: jnp.where(rect, a, fallback), adaptive)
    moved = True if degenerated_to_sgd else rect
    return step, moved


def make(degenerated_to_sgd: bool = False) -> Optimizer:
    degenerated_to_sgd = bool(degenerated_to_sgd)

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        m = ema(h.b1, state.m, grads)
        v = ema_sq(h.b2, state.v, grads)
        new_state = State(state.count + 1, m, v)
        bc1 = 1 - h.b1 ** as_float(new_state.count, h.b1)
        steps, moved = _step_sizes(new_state, h, degenerated_to_sgd)
        shrink = jnp.where(moved, 1 - h.learning_rate * h.weight_decay, 1.0)
        new = tree_map(lambda x, s, m: shrink * x - s * (m / bc1), params, steps, m)
        return new, new_state

    static = {"degenerated_to_sgd": degenerated_to_sgd}
    return Optimizer("radam", init, step, Hyper(), static, REFERENCE)


def diagnostics(grads, new_state, hyper, static):
    """step_size: x_t = x_{t-1} - step_size * m_hat_t (lr r_t/(sqrt(v)+eps) when rectified,
    lr on a degenerate SGD step, 0 on a skipped step); denominator (sqrt(v)+eps)/sqrt(bc2)."""
    del grads
    steps, _ = _step_sizes(new_state, hyper, static["degenerated_to_sgd"])
    bc2 = 1 - hyper.b2 ** as_float(new_state.count, hyper.b2)
    den = tree_map(lambda v: (jnp.sqrt(v) + hyper.eps) / jnp.sqrt(bc2), new_state.v)
    return {"step_size": steps, "denominator": den}


ENTRY = OptimizerEntry(
    id="radam",
    make=make,
    summary="RAdam (official): rectified Adam-E4, no update (or SGD) while rho_t < 5",
    paper=REFERENCE,
    eps="E4: lr r_t/bc1 * m/(sqrt(v)+eps) (optax.radam: E1)",
    decay="weight_decay: decoupled, scaled by lr, only on updating steps",
    static_choices={"degenerated_to_sgd": (False, True)},
    diagnostics=diagnostics,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε"},
    bibtex="""@inproceedings{liu2020variance,
  title     = {On the Variance of the Adaptive Learning Rate and Beyond},
  author    = {Liu, Liyuan and Jiang, Haoming and He, Pengcheng and Chen, Weizhu and
               Liu, Xiaodong and Gao, Jianfeng and Han, Jiawei},
  booktitle = {International Conference on Learning Representations},
  year      = {2020}
}""",
)
